package main

import (
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

// ops names one side's API methods as the call counts name them: CSAPI's
// by the simulator's method names, the CRM's by the simulator's operations.
type ops struct {
	search, get, listComments, addComment, listAttachments, download, upload, setPriority string
}

var (
	googleOps = ops{
		search: csapiPrefix + "cases.search", get: csapiPrefix + "cases.get",
		listComments: csapiPrefix + "comments.list", addComment: csapiPrefix + "comments.create",
		listAttachments: csapiPrefix + "attachments.list", download: csapiPrefix + "media.download",
		upload: csapiPrefix + "media.upload", setPriority: csapiPrefix + "cases.patch",
	}
	crmOps = ops{
		search: crmPrefix + crmsim.OpSearch, get: crmPrefix + crmsim.OpGet,
		listComments: crmPrefix + crmsim.OpListComments, addComment: crmPrefix + crmsim.OpAddComment,
		listAttachments: crmPrefix + crmsim.OpListAttachments, download: crmPrefix + crmsim.OpDownloadAttachment,
		upload: crmPrefix + crmsim.OpUploadAttachment, setPriority: crmPrefix + crmsim.OpSetPriority,
	}
)

func opsOf(s casesync.Side) ops {
	if s == casesync.SideGoogle {
		return googleOps
	}
	return crmOps
}

func other(s casesync.Side) casesync.Side {
	if s == casesync.SideGoogle {
		return casesync.SideCompany
	}
	return casesync.SideGoogle
}

// lowerBoundPage is the search page size the lower bound assumes on both
// sides (CSAPI's largest).
const lowerBoundPage = 100

// LowerBound returns the fewest API calls any connector that polls once a
// minute needs for the measured minutes of tr: on each side, each poll
// searches once, one more page per 100 cases changed that minute; each
// change then needs its source case read, the source's items of its kind
// listed (comments or attachments; nothing for a priority change), the file
// downloaded for an attachment, and one write to the other side (a comment,
// an upload or a priority change).
func LowerBound(tr Trace) map[string]int64 {
	calls := map[string]int64{}
	for m := tr.Warmup; m < tr.Warmup+tr.Minutes; m++ {
		changed := map[casesync.Side]map[int]bool{casesync.SideGoogle: {}, casesync.SideCompany: {}}
		for _, c := range tr.In(m) {
			changed[c.Side][c.Pair] = true
		}
		for side, pairs := range changed {
			calls[opsOf(side).search] += int64(max(1, (len(pairs)+lowerBoundPage-1)/lowerBoundPage))
		}
	}
	for _, c := range tr.Changes {
		if !tr.Measured(c.Minute) {
			continue
		}
		src, dst := opsOf(c.Side), opsOf(other(c.Side))
		calls[src.get]++
		switch c.Kind {
		case KindComment:
			calls[src.listComments]++
			calls[dst.addComment]++
		case KindAttachment:
			calls[src.listAttachments]++
			calls[src.download]++
			calls[dst.upload]++
		case KindPriority:
			calls[dst.setPriority]++
		}
	}
	return calls
}
