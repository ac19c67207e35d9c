package rt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// Downloads stream: GET /attachment/{id} answers one JSON object whose
// "Content" field holds the file in base64 (with line breaks, written as
// \n escapes). The object is read field by field without keeping any
// value, the Content string is unescaped and base64-decoded as it arrives,
// and a text file RT converted to UTF-8 is converted back on the fly. The
// bytes handed on are bounded by Config.MaxDownloadBytes; the answer's own
// bytes by wireLimit of it.

// wireLimit bounds the bytes of an attachment's JSON answer when the file
// itself may hold max bytes: base64 with a line break per 57 bytes takes
// 78 characters for them, a text file RT stored in UTF-8 may take twice its
// bytes (ISO-8859-1 above 0x7F), and the other fields are small. Three
// times max, plus 1 MiB, covers all of that.
func wireLimit(max int64) int64 {
	if max <= 0 {
		return 0
	}
	return 3*max + 1<<20
}

// errNotRestorable says a text file RT converted from ISO-8859-1 holds a
// character ISO-8859-1 cannot write, so its bytes as uploaded cannot be
// given back.
var errNotRestorable = errors.New("the file RT converted from ISO-8859-1 holds characters outside ISO-8859-1")

// openContent starts the download of a file part: its bytes as uploaded,
// streamed.
func (c *Client) openContent(ctx context.Context, part attachment) (io.ReadCloser, error) {
	id := part.ID.String()
	body, err := c.http.Download(ctx, crmhttp.Request{Op: OpGetAttachment, Path: "/attachment/" + id})
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(body, 16<<10)
	found, err := seekString(br, "Content")
	if err != nil {
		body.Close()
		return nil, downloadError(id, err)
	}
	var r io.Reader = bytes.NewReader(nil) // no content: an empty file
	if found {
		r = base64.NewDecoder(base64.StdEncoding, &jsonString{r: br})
	}
	if enc := originalEncoding(part.Headers); transcoded(enc) {
		if back := newRestorer(r, enc); back != nil {
			r = back
		}
	}
	return &download{r: crmhttp.LimitReader(r, c.cfg.MaxDownloadBytes, vendor, OpGetAttachment), body: body, id: id}, nil
}

// download is a file being streamed from RT.
type download struct {
	r    io.Reader
	body io.Closer
	id   string
}

func (d *download) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = downloadError(d.id, err)
	}
	return n, err
}

func (d *download) Close() error { return d.body.Close() }

// downloadError makes a failure while reading attachment id's answer an
// APIError: the size limit's and the transport's stay as they are, a file
// that cannot be converted back is permanent, and an answer that is cut
// short or garbled is worth reading again.
func downloadError(id string, err error) error {
	var ae *casesync.APIError
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, errNotRestorable):
		return &casesync.APIError{Side: casesync.SideCompany, Op: OpGetAttachment,
			Err: fmt.Errorf("%s: attachment %s: %w", vendor, id, err)}
	}
	var corrupt base64.CorruptInputError
	if errors.As(err, &corrupt) {
		err = fmt.Errorf("its content is not base64 (at byte %d)", int64(corrupt))
	}
	return &casesync.APIError{Side: casesync.SideCompany, Op: OpGetAttachment, Transient: true,
		Err: fmt.Errorf("%s: reading attachment %s: %w", vendor, id, err)}
}

// errBadJSON is the reason for an answer that is not the JSON object
// expected; the messages built on it never quote the answer.
var errBadJSON = errors.New("the answer is not the JSON object expected")

func badJSON(what string) error { return fmt.Errorf("%w: %s", errBadJSON, what) }

// readByte reads one byte; the end of the answer is an error here.
func readByte(r *bufio.Reader) (byte, error) {
	b, err := r.ReadByte()
	if err == io.EOF {
		return 0, badJSON("it ends early")
	}
	return b, err
}

// nextToken skips white space and returns the next byte.
func nextToken(r *bufio.Reader) (byte, error) {
	for {
		b, err := readByte(r)
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return b, nil
	}
}

// seekString reads a JSON object up to the value of its field name and
// reports whether that value is a string, whose opening quote it has then
// read. A null value, or no such field, reports false. The values of other
// fields are skipped, never kept.
func seekString(r *bufio.Reader, name string) (bool, error) {
	b, err := nextToken(r)
	if err != nil {
		return false, err
	}
	if b != '{' {
		return false, badJSON("it is not an object")
	}
	for first := true; ; first = false {
		b, err := nextToken(r)
		if err != nil {
			return false, err
		}
		switch {
		case b == '}' && first:
			return false, nil
		case b != '"':
			return false, badJSON("a field name is missing")
		}
		key, err := readKey(r)
		if err != nil {
			return false, err
		}
		if b, err = nextToken(r); err != nil {
			return false, err
		} else if b != ':' {
			return false, badJSON("a colon is missing")
		}
		if b, err = nextToken(r); err != nil {
			return false, err
		}
		if key == name {
			switch b {
			case '"':
				return true, nil
			case 'n':
				if err := skipLiteral(r); err != nil {
					return false, err
				}
			default:
				return false, badJSON("the " + name + " field is not a string")
			}
		} else if err := skipValue(r, b); err != nil {
			return false, err
		}
		switch b, err := nextToken(r); {
		case err != nil:
			return false, err
		case b == '}':
			return false, nil
		case b != ',':
			return false, badJSON("a comma is missing")
		}
	}
}

// maxKey is the longest field name kept; longer ones are read past (REST2's
// names are short).
const maxKey = 64

// readKey reads a string whose opening quote has been read, returning it
// when it is at most maxKey bytes long and "" otherwise.
func readKey(r *bufio.Reader) (string, error) {
	var buf [maxKey + 1]byte
	s := &jsonString{r: r}
	n, err := io.ReadFull(s, buf[:])
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		return string(buf[:n]), nil
	case nil:
		return "", drain(s)
	}
	return "", err
}

// drain reads r to its end, a little at a time.
func drain(r io.Reader) error {
	var buf [512]byte
	for {
		_, err := r.Read(buf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// skipValue reads past the JSON value starting with b.
func skipValue(r *bufio.Reader, b byte) error {
	switch b {
	case '"':
		return drain(&jsonString{r: r})
	case '{', '[':
		for depth := 1; depth > 0; {
			b, err := readByte(r)
			if err != nil {
				return err
			}
			switch b {
			case '"':
				if err := drain(&jsonString{r: r}); err != nil {
					return err
				}
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
		}
		return nil
	}
	return skipLiteral(r)
}

// skipLiteral reads past a number, true, false or null whose first byte
// has been read.
func skipLiteral(r *bufio.Reader) error {
	for {
		b, err := readByte(r)
		if err != nil {
			return err
		}
		switch b {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return r.UnreadByte()
		}
	}
}

// jsonString reads the rest of a JSON string whose opening quote has been
// read, unescaped, ending at its closing quote.
type jsonString struct {
	r       *bufio.Reader
	done    bool
	pending []byte // the rest of an escaped character's UTF-8
	esc     [utf8.UTFMax]byte
}

func (s *jsonString) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.pending) > 0 {
			c := copy(p[n:], s.pending)
			s.pending = s.pending[c:]
			n += c
			continue
		}
		if s.done {
			break
		}
		// Copy the plain run of bytes already buffered in one go.
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				if err == io.EOF {
					err = badJSON("a string does not end")
				}
				return n, err
			}
		}
		chunk, _ := s.r.Peek(min(s.r.Buffered(), len(p)-n))
		if i := bytes.IndexAny(chunk, `"\`); i != 0 {
			if i > 0 {
				chunk = chunk[:i]
			}
			n += copy(p[n:], chunk)
			s.r.Discard(len(chunk))
			continue
		}
		b, _ := s.r.ReadByte()
		if b == '"' {
			s.done = true
			break
		}
		if err := s.escape(); err != nil {
			return n, err
		}
	}
	if n == 0 && s.done {
		return 0, io.EOF
	}
	return n, nil
}

// escape reads the escape after a backslash into pending.
func (s *jsonString) escape() error {
	b, err := readByte(s.r)
	if err != nil {
		return err
	}
	var c byte
	switch b {
	case '"', '\\', '/':
		c = b
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'u':
	default:
		return badJSON("a string holds an unknown escape")
	}
	if c != 0 {
		s.esc[0] = c
		s.pending = s.esc[:1]
		return nil
	}
	var v rune
	for range 4 {
		h, err := readByte(s.r)
		if err != nil {
			return err
		}
		switch {
		case '0' <= h && h <= '9':
			v = v<<4 | rune(h-'0')
		case 'a' <= h && h <= 'f':
			v = v<<4 | rune(h-'a'+10)
		case 'A' <= h && h <= 'F':
			v = v<<4 | rune(h-'A'+10)
		default:
			return badJSON("a string holds a bad \\u escape")
		}
	}
	// A surrogate half on its own is written as U+FFFD; base64 text never
	// holds one.
	s.pending = s.esc[:utf8.EncodeRune(s.esc[:], v)]
	return nil
}

// restorer converts UTF-8 text back to the encoding RT converted it from:
// ISO-8859-1 or UTF-16 (RT's guesses for a text file that is not UTF-8).
// RT converts in strict mode, so the round trip is exact; a character
// ISO-8859-1 cannot write fails the read with errNotRestorable.
type restorer struct {
	src   io.Reader
	enc   string
	raw   [4096]byte
	carry int    // bytes of a character cut by the last read, at raw's start
	out   []byte // converted bytes not yet handed on
	space [2*4096 + 8]byte
	err   error
}

// newRestorer returns a reader converting src back to enc, or nil when enc
// is not one the adapter converts back (such a file is given as RT stores
// it, in UTF-8).
func newRestorer(src io.Reader, enc string) *restorer {
	switch enc {
	case "iso-8859-1", "latin1", "latin-1", "iso8859-1":
		enc = "iso-8859-1"
	case "utf-16le", "utf-16be":
	default:
		return nil
	}
	return &restorer{src: src, enc: enc}
}

func (r *restorer) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		n, err := r.src.Read(r.raw[r.carry:])
		data := r.raw[:r.carry+n]
		r.out = r.space[:0]
		i := 0
		for i < len(data) {
			if err == nil && !utf8.FullRune(data[i:]) {
				break // the rest of the character comes with the next read
			}
			c, size := utf8.DecodeRune(data[i:])
			i += size
			if !r.put(c) {
				r.err = errNotRestorable
				break
			}
		}
		if r.err == nil {
			r.carry = copy(r.raw[:], data[i:])
			r.err = err
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// put appends c in the target encoding; false when it cannot be written.
func (r *restorer) put(c rune) bool {
	switch r.enc {
	case "iso-8859-1":
		if c > 0xFF {
			return false
		}
		r.out = append(r.out, byte(c))
	default:
		if c > 0xFFFF {
			hi, lo := utf16.EncodeRune(c)
			r.putUnit(uint16(hi))
			r.putUnit(uint16(lo))
		} else {
			r.putUnit(uint16(c))
		}
	}
	return true
}

func (r *restorer) putUnit(u uint16) {
	if r.enc == "utf-16le" {
		r.out = binary.LittleEndian.AppendUint16(r.out, u)
	} else {
		r.out = binary.BigEndian.AppendUint16(r.out, u)
	}
}
