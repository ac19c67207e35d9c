package rt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

func TestTheContentFieldIsFoundAndUnescapedWithoutKeepingOtherFields(t *testing.T) {
	tests := []struct {
		name      string
		answer    string
		wantFound bool
		want      string
		wantErr   bool
	}{
		{
			name:      "content after fields of every kind",
			answer:    `{"id":7, "Headers":"A: \"}\\\"\n", "_hyperlinks":[{"ref":"self","x":[1,{"y":"]}"}]}], "n":-1.5e3, "ok":true, "no":null, "Content":"QUJD\nREVG\n"}`,
			wantFound: true, want: "QUJD\nREVG\n",
		},
		{
			name:      "every escape JSON has",
			answer:    `{"Content":"a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9"}`,
			wantFound: true, want: "a\"b\\c/d\be\ff\ng\rh\tiA\u00e9",
		},
		{name: "a null content is no content", answer: `{"Content":null,"id":7}`},
		{name: "no content field is no content", answer: `{"id":7,"Filename":"a.bin"}`},
		{name: "an empty object is no content", answer: ` { } `},
		{name: "a field name longer than any of RT's is read past", answer: `{"` + strings.Repeat("k", 500) + `":1,"Content":"x"}`, wantFound: true, want: "x"},
		{name: "a content that is not a string is refused", answer: `{"Content":12}`, wantErr: true},
		{name: "an answer that is not an object is refused", answer: `["Content"]`, wantErr: true},
		{name: "an answer cut short is refused", answer: `{"id":7,"Headers":"abc`, wantErr: true},
		{name: "a content cut short is refused", answer: `{"Content":"QUJD`, wantFound: true, wantErr: true},
		{name: "an unknown escape is refused", answer: `{"Content":"a\qb"}`, wantFound: true, wantErr: true},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			if oneByte {
				name += ", read a byte at a time"
			}
			t.Run(name, func(t *testing.T) {
				var src io.Reader = strings.NewReader(tc.answer)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				br := bufio.NewReaderSize(src, 16)
				found, err := seekString(br, "Content")
				var got []byte
				if err == nil && found {
					got, err = io.ReadAll(&jsonString{r: br})
				}
				if (err != nil) != tc.wantErr {
					t.Fatalf("error = %v, want an error: %v", err, tc.wantErr)
				}
				if err != nil && !errors.Is(err, errBadJSON) {
					t.Errorf("error %v is not errBadJSON", err)
				}
				if found != tc.wantFound {
					t.Errorf("found = %v, want %v", found, tc.wantFound)
				}
				if !tc.wantErr {
					if diff := cmp.Diff(tc.want, string(got)); diff != "" {
						t.Errorf("content (-want +got):\n%s", diff)
					}
				}
				if err != nil && strings.Contains(err.Error(), "QUJD") {
					t.Errorf("error %q quotes the answer", err)
				}
			})
		}
	}
}

func TestTextRTConvertedToUTF8IsConvertedBackAsItStreams(t *testing.T) {
	var latin1 []byte
	for i := range 3 * 4096 {
		latin1 = append(latin1, byte(i*7+i/256))
	}
	var stored strings.Builder // RT's UTF-8 copy
	for _, b := range latin1 {
		stored.WriteRune(rune(b))
	}
	text := strings.Repeat("héllo wörld 𝄞 ", 1000)
	units := utf16.Encode([]rune(text))
	le, be := make([]byte, 0, 2*len(units)), make([]byte, 0, 2*len(units))
	for _, u := range units {
		le = binary.LittleEndian.AppendUint16(le, u)
		be = binary.BigEndian.AppendUint16(be, u)
	}
	tests := []struct {
		name    string
		enc     string
		stored  string
		want    []byte
		wantErr error
	}{
		{name: "every ISO-8859-1 byte comes back", enc: "iso-8859-1", stored: stored.String(), want: latin1},
		{name: "UTF-16LE comes back, surrogate pairs included", enc: "utf-16le", stored: text, want: le},
		{name: "UTF-16BE comes back, surrogate pairs included", enc: "utf-16be", stored: text, want: be},
		{name: "a character ISO-8859-1 cannot write fails the read after the bytes before it", enc: "latin1",
			stored: "caf\u00e9 \u20ac", want: []byte("caf\xe9 "), wantErr: errNotRestorable},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			if oneByte {
				name += ", its UTF-8 arriving a byte at a time"
			}
			t.Run(name, func(t *testing.T) {
				var src io.Reader = strings.NewReader(tc.stored)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				r := newRestorer(src, tc.enc)
				if r == nil {
					t.Fatalf("newRestorer(%q) = nil", tc.enc)
				}
				var got bytes.Buffer
				_, err := io.Copy(&got, struct{ io.Reader }{r})
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				if !bytes.Equal(got.Bytes(), tc.want) {
					t.Errorf("got %d bytes, want %d; they differ", got.Len(), len(tc.want))
				}
			})
		}
	}
	t.Run("an encoding the adapter cannot write gives the file as RT stores it", func(t *testing.T) {
		if r := newRestorer(strings.NewReader("x"), "shift_jis"); r != nil {
			t.Errorf("newRestorer(shift_jis) = %v, want nil", r)
		}
	})
}
