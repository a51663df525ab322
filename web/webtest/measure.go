package webtest

import (
	"encoding/json"
	"math"
	"slices"
)

// Weight is what loading the current page cost, from the browser's
// Navigation and Resource Timing: bytes transferred (headers and
// compression included) and milliseconds from the start of navigation.
type Weight struct {
	HTML, Static, API int     // the document, /static/ files, /api/ calls
	FCP               float64 // first contentful paint
	Mark              float64 // the performance mark asked for, or -1
}

// Total is every byte the page transferred.
func (w Weight) Total() int { return w.HTML + w.Static + w.API }

// PageWeight measures the current page; mark names a performance.mark the
// page sets when it has rendered what matters.
func PageWeight(b *Browser, mark string) Weight {
	b.t.Helper()
	return Eval[Weight](b, `((mark) => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const sum = (f) => res.filter(f).reduce((n, e) => n + e.transferSize, 0);
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const m = performance.getEntriesByName(mark)[0];
  return {HTML: nav.transferSize, Static: sum(e => e.name.includes("/static/")), API: sum(e => e.name.includes("/api/")),
    FCP: fcp ? fcp.startTime : -1, Mark: m ? m.startTime : -1};
})(`+jsString(mark)+`)`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Percentile returns the p-th percentile of xs (nearest rank), 0 if empty.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}
