package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// fileTypes gives the MIME type of common file extensions; Salesforce
// keeps a file's extension and a FileType of its own, not a MIME type.
var fileTypes = map[string]string{
	"txt": "text/plain", "log": "text/plain", "csv": "text/csv", "json": "application/json",
	"xml": "application/xml", "html": "text/html", "htm": "text/html", "pdf": "application/pdf",
	"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
	"zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
	"bin": "application/octet-stream", "har": "application/json", "yaml": "application/yaml",
}

// mimeOf gives the MIME type of a file extension.
func mimeOf(ext string) string {
	ext = strings.ToLower(ext)
	if t, ok := fileTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension("." + ext); ext != "" && t != "" {
		return t
	}
	return "application/octet-stream"
}

// file is a file linked to a case.
type file struct {
	att       casesync.Attachment
	versionID string
}

// linkFields is the select list of a file link (ContentDocumentLink) read.
const linkFields = "ContentDocumentId, Visibility, ContentDocument.Title, ContentDocument.FileExtension, " +
	"ContentDocument.ContentSize, ContentDocument.LatestPublishedVersionId, ContentDocument.CreatedById, " +
	"ContentDocument.CreatedBy.Name, ContentDocument.CreatedDate, ContentDocument.SharingPrivacy"

var errMoreFiles = errors.New("the case has more files than a subquery holds")

// listFiles reads the files linked to the case (ContentDocumentLink), with
// the case itself so that an unknown case is told from one with no files.
func (c *Client) listFiles(ctx context.Context, op, id string) ([]file, error) {
	cid, err := caseID(op, id)
	if err != nil {
		return nil, err
	}
	soql := "SELECT Id, (SELECT " + linkFields + " FROM ContentDocumentLinks) FROM Case WHERE Id = " + soqlString(cid)
	var rows []record
	found := false
	_, err = c.query(ctx, op, soql, func(raw json.RawMessage) error {
		r, err := decodeRecord(raw)
		if err != nil {
			return malformed(op, err)
		}
		found = true
		if sub := r.child("ContentDocumentLinks"); sub != nil && !sub.boolean("done") {
			// A subquery holds its first batch only; a case with more
			// files than one batch is read again link by link.
			return errMoreFiles
		}
		rows = append(rows, r.subquery("ContentDocumentLinks")...)
		return nil
	})
	if errors.Is(err, errMoreFiles) {
		found, rows, err = true, nil, nil
		_, err = c.query(ctx, op, "SELECT "+linkFields+" FROM ContentDocumentLink WHERE LinkedEntityId = "+soqlString(cid)+" ORDER BY SystemModstamp, Id",
			func(raw json.RawMessage) error {
				r, err := decodeRecord(raw)
				if err != nil {
					return malformed(op, err)
				}
				rows = append(rows, r)
				return nil
			})
	}
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, crmhttp.NotFoundError(vendor, op, "case "+cid)
	}
	me := c.syncUserID()
	var out []file
	for _, r := range rows {
		doc := r.child("ContentDocument")
		vid := doc.str("LatestPublishedVersionId")
		if doc == nil || !validID(vid, "068") {
			continue
		}
		ext, title := doc.str("FileExtension"), doc.str("Title")
		name := title
		if ext != "" && !strings.HasSuffix(strings.ToLower(title), "."+strings.ToLower(ext)) {
			name = title + "." + ext
		}
		author := doc.str("CreatedById")
		out = append(out, file{versionID: to18(vid), att: casesync.Attachment{
			ID:          to18(vid),
			Filename:    name,
			MimeType:    mimeOf(ext),
			Size:        doc.int64("ContentSize"),
			AuthorName:  doc.child("CreatedBy").str("Name"),
			ByConnector: me != "" && validID(author, "005") && to18(author) == me,
			// A file is public only when its link to the case says all
			// users, customers in the portal included, may see it;
			// InternalUsers, SharedUsers or no value keep it internal.
			// A file its owner made private on records (SharingPrivacy P)
			// is not for customers either.
			Public:     r.str("Visibility") == "AllUsers" && doc.str("SharingPrivacy") != "P",
			CreateTime: doc.time("CreatedDate"),
		}})
	}
	return out, nil
}

// ListAttachments lists the files linked to the case, oldest first.
func (c *Client) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	files, err := c.listFiles(ctx, "attachments.list", id)
	if err != nil {
		return nil, err
	}
	out := make([]casesync.Attachment, 0, len(files))
	for _, f := range files {
		out = append(out, f.att)
	}
	sortAttachments(out)
	return out, nil
}

func sortAttachments(as []casesync.Attachment) {
	for i := 1; i < len(as); i++ {
		for j := i; j > 0 && (as[j].CreateTime.Before(as[j-1].CreateTime) ||
			as[j].CreateTime.Equal(as[j-1].CreateTime) && as[j].ID < as[j-1].ID); j-- {
			as[j], as[j-1] = as[j-1], as[j]
		}
	}
}

// DownloadAttachment streams the latest version of a file linked to the
// case (GET /sobjects/ContentVersion/{id}/VersionData). A file listed
// larger than MaxDownloadBytes is not asked for; one served larger fails
// once the bound is passed.
func (c *Client) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	const op = "attachments.download"
	files, err := c.listFiles(ctx, op, id)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.versionID != attachmentID && !(len(attachmentID) == 15 && f.versionID == to18(attachmentID)) {
			continue
		}
		if limit := c.cfg.MaxDownloadBytes; limit > 0 && f.att.Size > limit {
			return nil, crmhttp.TooLarge(vendor, op, limit)
		}
		var rc io.ReadCloser
		err := c.call(ctx, func() error {
			var err error
			rc, err = c.http.Download(ctx, crmhttp.Request{Op: op, Path: c.api + "/sobjects/ContentVersion/" + f.versionID + "/VersionData",
				Header: http.Header{"Accept": {"*/*"}}})
			return err
		})
		return rc, err
	}
	return nil, crmhttp.NotFoundError(vendor, op, fmt.Sprintf("file %s of case %s", casesync.Quote(attachmentID), casesync.Quote(id)))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// UploadAttachment streams r to a new ContentVersion whose
// FirstPublishLocationId is the case, so Salesforce links the file to the
// case. The link gets the org's default visibility for files an internal
// user adds. A file over the size limit is refused.
func (c *Client) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	const op = "attachments.upload"
	cid, err := caseID(op, id)
	if err != nil {
		return casesync.Attachment{}, err
	}
	if filename == "" || !utf8.ValidString(filename) || len(filename) > 255 || strings.ContainsAny(filename, "\x00\r\n\"") {
		return casesync.Attachment{}, crmhttp.Invalid(vendor, op, "the file name is empty, too long or not valid UTF-8")
	}
	if mimeType == "" || strings.ContainsAny(mimeType, "\r\n") || len(mimeType) > 255 {
		mimeType = "application/octet-stream"
	}
	// The case must exist: an insert naming an unknown case would fail
	// only after the file was sent.
	if _, err := c.getCase(ctx, op, cid); err != nil {
		return casesync.Attachment{}, err
	}
	meta, _ := json.Marshal(map[string]string{"Title": filename, "PathOnClient": filename, "FirstPublishLocationId": cid})
	var res saveResult
	var at time.Time
	var counted *countingReader
	err = c.callOnce(ctx, func() error {
		limited := crmhttp.LimitReader(r, c.cfg.MaxAttachmentBytes, vendor, op)
		counted = &countingReader{r: limited}
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="entity_content"`)
			h.Set("Content-Type", "application/json")
			part, err := mw.CreatePart(h)
			if err == nil {
				_, err = part.Write(meta)
			}
			if err == nil {
				h = textproto.MIMEHeader{}
				h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="VersionData"; filename="%s"`, filename))
				h.Set("Content-Type", mimeType)
				part, err = mw.CreatePart(h)
			}
			if err == nil {
				_, err = io.Copy(part, counted)
			}
			if err == nil {
				err = mw.Close()
			}
			pw.CloseWithError(err)
		}()
		req := crmhttp.Request{Op: op, Method: http.MethodPost, Path: c.api + "/sobjects/ContentVersion", Stream: pr, Limited: limited,
			ContentType: mw.FormDataContentType(), Mode: crmhttp.Never}
		resp, err := c.http.Do(ctx, req)
		if err != nil {
			pr.CloseWithError(err)
			return err
		}
		defer resp.Body.Close()
		at, _ = http.ParseTime(resp.Header.Get("Date"))
		return c.http.DecodeJSON(op, resp, &res)
	}, false)
	if err != nil {
		return casesync.Attachment{}, err
	}
	if !validID(res.ID, "068") {
		return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusCreated,
			Err: errors.New("Salesforce: the insert answered no file version id")}
	}
	return casesync.Attachment{
		ID:          to18(res.ID),
		Filename:    filename,
		MimeType:    mimeType,
		Size:        counted.n,
		ByConnector: true,
		CreateTime:  at.UTC(),
	}, nil
}
