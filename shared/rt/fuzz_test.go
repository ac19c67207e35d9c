package rt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Fuzz targets for REST2's wire format as the adapter reads it: the JSON
// shapes of its answers, the streamed Content field of a download, and the
// conversion of a text file back to the encoding RT converted it from. Each
// runs on its seeds in the ordinary test command; scripts/fuzz.sh runs them
// for a given time (without starting RT: see TestMain).

func FuzzWireDecode(f *testing.F) {
	for _, s := range []string{
		`{"count":2,"page":1,"per_page":100,"items":[{"id":7,"type":"attachment","TransactionId":{"id":"12","type":"transaction"},"Filename":"a.txt","ContentType":"text/plain","ContentLength":"5","Created":"2026-11-21T02:44:49Z","Creator":{"id":"root","Name":"root","RealName":"Enoch Root"},"Headers":"X-RT-Original-Encoding: iso-8859-1\nContent-Type: text/plain"}]}`,
		`{"items":[{"id":"12","Type":"Correspond","type":"transaction","Created":"1970-01-01T00:00:00Z","Creator":{"id":"bob"}}]}`,
		`{"id":42,"Subject":"s","Status":"open","Priority":"50","Created":"2026-01-02T03:04:05Z","LastUpdated":"garbage","CustomFields":[{"name":"Google Case","values":["projects/p/cases/1"]}]}`,
		`{"items":[{"id":1e3},{"id":-1},{"id":"../1"},{"id":null},{"id":[1]},{"id":{"id":{"id":"9"}}}]}`,
		`{"items":[{"id":"` + strings.Repeat("9", 300) + `"}]}`,
		`{"message":"Permission Denied"}`,
		`[`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var parts collection[attachment]
		if err := json.Unmarshal(data, &parts); err == nil {
			for _, a := range parts.Items {
				checkWireID(t, a.ID.String())
				checkWireID(t, a.TransactionID.String())
				_ = originalEncoding(a.Headers)
				if got := parseTime(a.Created); !got.IsZero() && (got.Unix() <= 0 || got.Location() != got.UTC().Location()) {
					t.Fatalf("parseTime(%q) = %v, want a UTC time after 1970 or zero", a.Created, got)
				}
				_ = displayName(a.Creator)
				_ = pageToken(parts.Items)
			}
		} else {
			checkDecodeError(t, err, data)
		}
		var txns collection[transaction]
		if err := json.Unmarshal(data, &txns); err == nil {
			for _, tx := range txns.Items {
				checkWireID(t, tx.ID.String())
			}
		}
		var tk ticket
		if err := json.Unmarshal(data, &tk); err == nil {
			checkWireID(t, tk.ID.String())
			_ = tk.customField("Google Case")
		}
		_ = errorDetail(400, data)
		if d := errorDetail(400, data); len(d) > 80 {
			t.Fatalf("errorDetail kept %d bytes", len(d))
		}
	})
}

// checkWireID: an id the adapter hands on is either one it accepts as a
// record number, which the engine accepts too, or refused by validID
// before it reaches a path.
func checkWireID(t *testing.T, id string) {
	t.Helper()
	if id == "" || validID("get", "ticket", id) != nil {
		return
	}
	if !casesync.ValidID(id) || strings.ContainsAny(id, "/.") {
		t.Fatalf("validID accepts %q, which is no plain record number", id)
	}
}

// checkDecodeError: an answer that does not decode gives an error that
// quotes no long run of it.
func checkDecodeError(t *testing.T, err error, data []byte) {
	t.Helper()
	const run = 200
	msg := err.Error()
	for i := 0; i+run <= len(data); i += run / 2 {
		if strings.Contains(msg, string(data[i:i+run])) {
			t.Fatalf("the decoding error quotes %d bytes of the answer", run)
		}
	}
}

// FuzzStreamContent reads the Content field of an answer as a download
// does, a little at a time, and compares it with what encoding/json reads
// from the same answer.
func FuzzStreamContent(f *testing.F) {
	for _, s := range []string{
		`{"id":7,"Content":"aGVsbG8=\n"}`,
		`{"Headers":"a\"b","Content":"aGVs\nbG8=","Filename":"x"}`,
		`{"Cont\u0065nt":"\u00e9\ud83d\ude00\/\b\f\n\r\t"}`,
		`{"nested":{"Content":"no"},"list":[1,"Content",{"a":[]}],"Content":null}`,
		`{"` + strings.Repeat("k", 100) + `":1,"Content":"x"}`,
		`{"Content":7}`, `{"Content":"unterminated`, `{"a" 1}`, `[]`, `{}`, ``,
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var r io.Reader = bytes.NewReader(data)
		if chunk%2 == 1 {
			r = iotest.OneByteReader(r)
		}
		br := bufio.NewReaderSize(r, 16)
		found, err := seekString(br, "Content")
		var got []byte
		if err == nil && found {
			buf := make([]byte, int(chunk)%7+1)
			s := &jsonString{r: br}
			for {
				n, rerr := s.Read(buf)
				got = append(got, buf[:n]...)
				if rerr == io.EOF {
					break
				}
				if rerr != nil {
					err = rerr
					break
				}
				if len(got) > len(data) {
					t.Fatalf("the Content string read %d bytes from a %d-byte answer", len(got), len(data))
				}
			}
		}
		if err != nil && !errors.Is(err, errBadJSON) {
			t.Fatalf("reading the answer failed with %v, want errBadJSON", err)
		}
		if err != nil && len(err.Error()) > 120 {
			t.Fatalf("the error %q is long; it must quote nothing of the answer", err)
		}
		// Compare with encoding/json where both read the same thing: a
		// valid answer whose fields are unique and spelled exactly, whose
		// Content has no \u escape of a surrogate (written as U+FFFD on its
		// own here, as a pair by encoding/json) and no invalid UTF-8.
		var fields map[string]json.RawMessage
		if !json.Valid(data) || json.Unmarshal(data, &fields) != nil || bytes.Contains(data, []byte(`\ud`)) ||
			bytes.Contains(data, []byte(`\uD`)) || !utf8.Valid(data) || duplicateKeys(data) {
			return
		}
		raw, ok := fields["Content"]
		var want string
		if ok && string(raw) != "null" && json.Unmarshal(raw, &want) == nil {
			if err != nil || !found || string(got) != want {
				t.Fatalf("the stream read %q (found %v, err %v), encoding/json %q", got, found, err, want)
			}
			return
		}
		if err == nil && found {
			t.Fatalf("the stream found a Content string that encoding/json does not: %q", got)
		}
	})
}

// duplicateKeys reports whether the top-level object repeats a key.
func duplicateKeys(data []byte) bool {
	d := json.NewDecoder(bytes.NewReader(data))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// FuzzRestorer: a text file RT stored in UTF-8 after converting it from
// ISO-8859-1 or UTF-16 comes back as its bytes as uploaded, however the
// reads are cut.
func FuzzRestorer(f *testing.F) {
	f.Add([]byte("caf\xe9 na\xefve"), "iso-8859-1", true)
	f.Add([]byte("h\x00i\x00"), "utf-16le", false)
	f.Add([]byte("\x00h\xd8\x3d\xde\x00"), "utf-16be", true)
	f.Add([]byte{}, "latin1", false)
	f.Fuzz(func(t *testing.T, orig []byte, enc string, oneByte bool) {
		back := newRestorer(nil, enc)
		if back == nil {
			return
		}
		enc = back.enc
		// What RT stored: the file converted to UTF-8.
		var stored []byte
		switch enc {
		case "iso-8859-1":
			for _, b := range orig {
				stored = utf8.AppendRune(stored, rune(b))
			}
		default:
			if len(orig)%2 != 0 {
				return
			}
			units := make([]uint16, len(orig)/2)
			for i := range units {
				if enc == "utf-16le" {
					units[i] = binary.LittleEndian.Uint16(orig[2*i:])
				} else {
					units[i] = binary.BigEndian.Uint16(orig[2*i:])
				}
			}
			runes := utf16.Decode(units)
			for _, r := range runes {
				if r == utf8.RuneError {
					return // a lone surrogate: RT's strict conversion refuses it
				}
			}
			stored = []byte(string(runes))
		}
		var src io.Reader = bytes.NewReader(stored)
		if oneByte {
			src = iotest.OneByteReader(src)
		}
		got, err := io.ReadAll(newRestorer(src, enc))
		if err != nil {
			t.Fatalf("restoring %s: %v", enc, err)
		}
		if !bytes.Equal(got, orig) {
			t.Fatalf("restoring %s gave %q, want %q", enc, got, orig)
		}
	})
}

func FuzzHTMLToText(f *testing.F) {
	for _, s := range []string{"<p>Hello<br>world</p>", "a &amp; b &lt;c&gt;", "<div>x</div>\r\n\r\n\r\n<div>y</div>", "<!-- <p> -->", "<", "plain\ntext", strings.Repeat("<br/>", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := htmlToText(s)
		if strings.Contains(got, "\n\n\n") || got != strings.TrimSpace(got) {
			t.Fatalf("htmlToText(%q) = %q has blank runs or edges", s, got)
		}
		if len(got) > 2*len(s)+16 {
			t.Fatalf("htmlToText of %d bytes gave %d", len(s), len(got))
		}
		if !strings.ContainsAny(s, "<&") {
			want := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", " "))
			if got != want {
				t.Fatalf("htmlToText(%q) = %q, want the text on one line %q", s, got, want)
			}
		}
	})
}
