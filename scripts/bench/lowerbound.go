package main

import (
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

// ops names one side's API methods as the call counts name them: CSAPI's
// by the simulator's method names, the CRM's by the simulator's operations.
type ops struct {
	search, get, listComments, addComment, listAttachments, download, upload, setPriority string
	// listItems lists a case's comments and attachments in one call:
	// CSAPI's v2beta case feed, the CRM simulator's conversation.
	listItems string
}

var (
	googleOps = ops{
		search: csapiPrefix + "cases.search", get: csapiPrefix + "cases.get",
		listComments: csapiPrefix + "comments.list", addComment: csapiPrefix + "comments.create",
		listAttachments: csapiPrefix + "attachments.list", download: csapiPrefix + "media.download",
		upload: csapiPrefix + "media.upload", setPriority: csapiPrefix + "cases.patch",
		listItems: csapiPrefix + "cases.showFeed",
	}
	crmOps = ops{
		search: crmPrefix + crmsim.OpSearch, get: crmPrefix + crmsim.OpGet,
		listComments: crmPrefix + crmsim.OpListComments, addComment: crmPrefix + crmsim.OpAddComment,
		listAttachments: crmPrefix + crmsim.OpListAttachments, download: crmPrefix + crmsim.OpDownloadAttachment,
		upload: crmPrefix + crmsim.OpUploadAttachment, setPriority: crmPrefix + crmsim.OpSetPriority,
		listItems: crmPrefix + crmsim.OpListConversation,
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

// listings says, per side, whether its adapter lists a case's comments and
// attachments in one call (casesync.ItemLister): the lower bound then
// counts that call as the listing of a change.
type listings map[casesync.Side]bool

// listing is the call that lists the items of kind k on a side.
func (o ops) listing(k Kind, oneCall bool) string {
	switch {
	case oneCall:
		return o.listItems
	case k == KindAttachment:
		return o.listAttachments
	default:
		return o.listComments
	}
}

// listings reports which of the world's adapters list in one call.
func (w *world) listings() listings {
	_, g := w.engine.Google.(casesync.ItemLister)
	_, c := w.engine.CRM.(casesync.ItemLister)
	return listings{casesync.SideGoogle: g, casesync.SideCompany: c}
}

// lowerBoundPage is the search page size the lower bound assumes on both
// sides (CSAPI's largest).
const lowerBoundPage = 100

// LowerBound returns the fewest API calls any connector that polls once a
// minute needs for the measured minutes of tr: on each side, each poll
// searches once, one more page per 100 cases changed that minute; each
// change then needs its source case read, the source's items of its kind
// listed (comments or attachments, or both in one call on a side that
// lists so in one; nothing for a priority change), the file downloaded for
// an attachment, and one write to the other side (a comment, an upload or
// a priority change).
func LowerBound(tr Trace, one listings) map[string]int64 {
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
			calls[src.listing(c.Kind, one[c.Side])]++
			calls[dst.addComment]++
		case KindAttachment:
			calls[src.listing(c.Kind, one[c.Side])]++
			calls[src.download]++
			calls[dst.upload]++
		case KindPriority:
			calls[dst.setPriority]++
		}
	}
	return calls
}
