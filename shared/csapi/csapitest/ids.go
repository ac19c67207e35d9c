package csapitest

import "strings"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// salesforceID returns the n-th attachment ID in the 18-character form the
// real service uses (e.g. "0684M00000P3h1fQAB"): a 15-character
// case-sensitive ID followed by the 3-character case-insensitive checksum.
func salesforceID(n int64) string {
	var seq [5]byte
	for i := 4; i >= 0; i-- {
		seq[i] = base62[n%62]
		n /= 62
	}
	id15 := "0684M00000" + string(seq[:])
	return id15 + salesforceChecksum(id15)
}

// salesforceChecksum returns the 3-character suffix of an 18-character
// Salesforce ID: one character per 5-character chunk, encoding which of its
// characters are upper-case letters.
func salesforceChecksum(id15 string) string {
	const suffixChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var b strings.Builder
	for chunk := 0; chunk < 3; chunk++ {
		mask := 0
		for i := 0; i < 5; i++ {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				mask |= 1 << i
			}
		}
		b.WriteByte(suffixChars[mask])
	}
	return b.String()
}

// obfuscatedAgentNames are the display names given to Google Support agents;
// the real service shows agents under a first name and an initial only.
var obfuscatedAgentNames = []string{"Alex R.", "Priya K.", "Tomás G.", "Mei L.", "Jordan S."}

// displayNameFromEmail derives a console display name from an address.
func displayNameFromEmail(email string) string {
	local, _, _ := strings.Cut(email, "@")
	parts := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	if len(parts) == 0 {
		return email
	}
	return strings.Join(parts, " ")
}
