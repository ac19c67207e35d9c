package casesync

import "time"

// SetNoticeLimits sets how many mappings outage detection posts notices for
// at once, how long each call may take and the run's budget for notices,
// until the returned function restores them. Tests only.
func SetNoticeLimits(parallel int, callTimeout, budget time.Duration) (restore func()) {
	p, c, b := noticeParallel, noticeCallTimeout, noticeBudget
	noticeParallel, noticeCallTimeout, noticeBudget = parallel, callTimeout, budget
	return func() { noticeParallel, noticeCallTimeout, noticeBudget = p, c, b }
}

// NoticeParallel is how many mappings outage detection posts notices for at
// once.
func NoticeParallel() int { return noticeParallel }
