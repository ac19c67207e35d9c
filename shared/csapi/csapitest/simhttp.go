package csapitest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
)

// duration decodes from a Go duration string ("1.5s", "200ms") or a number
// of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		v, err := time.ParseDuration(str)
		if err != nil {
			return err
		}
		*d = duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return err
	}
	*d = duration(secs * float64(time.Second))
	return nil
}

type simActor struct {
	DisplayName   string `json:"displayName"`
	Email         string `json:"email"`
	Username      string `json:"username"`
	GoogleSupport bool   `json:"googleSupport"`
}

type simRequest struct {
	Parent       string    `json:"parent"`
	DisplayName  string    `json:"displayName"`
	Description  string    `json:"description"`
	Priority     string    `json:"priority"`
	CreatorEmail string    `json:"creatorEmail"`
	Case         string    `json:"case"`
	Body         string    `json:"body"`
	Creator      *simActor `json:"creator"`
	Filename     string    `json:"filename"`
	MimeType     string    `json:"mimeType"`
	Data         string    `json:"data"`
	State        string    `json:"state"`
	Method       string    `json:"method"`
	Status       int       `json:"status"`
	RetryAfter   duration  `json:"retryAfter"`
	Count        int       `json:"count"`
	Latency      duration  `json:"latency"`
	Down         bool      `json:"down"`
	Lag          duration  `json:"lag"`
	Denied       bool      `json:"denied"`
	Name         string    `json:"name"`
	Subject      string    `json:"subject"`
	To           []string  `json:"to"`
	Cc           []string  `json:"cc"`
}

// CaseState is one case as GET /_sim/state reports it.
type CaseState struct {
	Case        cloudsupport.Case         `json:"case"`
	Comments    []cloudsupport.Comment    `json:"comments"`
	Attachments []cloudsupport.Attachment `json:"attachments"`
}

// State is the body of GET /_sim/state: every case, newest first, with its
// comments and attachment metadata, oldest first.
type State struct {
	Cases []CaseState `json:"cases"`
}

// Snapshot returns what GET /_sim/state serves.
func (s *Server) Snapshot() State {
	st := State{Cases: []CaseState{}}
	for _, c := range s.Cases() {
		st.Cases = append(st.Cases, CaseState{Case: c, Comments: s.Comments(c.Name), Attachments: s.Attachments(c.Name)})
	}
	return st
}

type nameResponse struct {
	Name string `json:"name"`
}

func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	var req simRequest
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		if err == nil && len(body) > 0 {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			writeError(w, errInvalid("Invalid test hook body."))
			return
		}
	}
	creator := func() Actor {
		if req.Creator == nil {
			return Actor{}
		}
		return Actor{DisplayName: req.Creator.DisplayName, Email: req.Creator.Email, Username: req.Creator.Username, GoogleSupport: req.Creator.GoogleSupport}
	}
	var (
		resp any = struct{}{}
		err  error
		name string
	)
	switch r.Method + " " + r.URL.Path {
	case "POST /_sim/cases":
		name, err = s.CreateCase(req.Parent, req.DisplayName, req.Description, req.Priority, req.CreatorEmail)
		resp = nameResponse{Name: name}
	case "POST /_sim/comments":
		name, err = s.AddComment(req.Case, req.Body, creator())
		resp = nameResponse{Name: name}
	case "POST /_sim/agent-comments":
		name, err = s.AddAgentComment(req.Case, req.Body)
		resp = nameResponse{Name: name}
	case "POST /_sim/attachments":
		data, decErr := base64.StdEncoding.DecodeString(req.Data)
		if decErr != nil {
			err = errInvalid("data must be standard base64.")
			break
		}
		name, err = s.AddAttachment(req.Case, req.Filename, req.MimeType, data, creator())
		resp = nameResponse{Name: name}
	case "POST /_sim/email-messages":
		name, err = s.AddEmailMessage(req.Case, req.Subject, req.Body, creator(), req.To, req.Cc)
		resp = nameResponse{Name: name}
	case "POST /_sim/delete-attachment":
		err = s.DeleteAttachment(req.Name)
	case "POST /_sim/priority":
		err = s.SetPriority(req.Case, req.Priority)
	case "POST /_sim/case-state":
		err = s.SetState(req.Case, req.State)
	case "POST /_sim/close":
		err = s.CloseCase(req.Case)
	case "POST /_sim/faults":
		s.InjectFault(Fault{Method: req.Method, Status: req.Status, RetryAfter: time.Duration(req.RetryAfter), Count: req.Count, Latency: time.Duration(req.Latency)})
	case "DELETE /_sim/faults":
		s.ClearFaults()
	case "POST /_sim/down":
		s.SetDown(req.Down)
	case "POST /_sim/search-lag":
		s.SetSearchLag(time.Duration(req.Lag))
	case "POST /_sim/escalation-denied":
		s.SetEscalationDenied(req.Denied)
	case "GET /_sim/calls":
		resp = s.Calls()
	case "DELETE /_sim/calls":
		s.ResetCalls()
	case "GET /_sim/state":
		resp = s.Snapshot()
	case "GET /_sim/attachment-data":
		data, ok := s.AttachmentData(r.URL.Query().Get("name"))
		if !ok {
			writeError(w, errNotFound("Requested entity was not found."))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
		return
	default:
		writeError(w, errNotFound("No such test hook."))
		return
	}
	if err != nil {
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			apiErr = &APIError{Code: 500, Status: "INTERNAL", Message: "test hook failed"}
		}
		writeError(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
