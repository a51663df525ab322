// Package webtest drives a real, headless Chromium from Go tests with
// chromedp. It is imported only by tests: onramp's binary never links it.
//
// A Browser is one Chromium process with a fresh profile and one tab. Any
// uncaught exception, console error or Content-Security-Policy violation in
// the tab fails the test, so a broken script cannot pass unnoticed.
package webtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ExecPath is where Debian's chromium package installs the browser.
const ExecPath = "/usr/bin/chromium"

// Environment variables the package reads.
const (
	// EnvRequire makes a missing browser a failure instead of a skip (CI).
	EnvRequire = "ONRAMP_REQUIRE_BROWSER"
	// EnvArtifacts is the folder that screenshots go to; t.TempDir() if unset.
	EnvArtifacts = "ONRAMP_ARTIFACTS"
)

// Timeout bounds each action a test runs in the browser.
const Timeout = time.Minute

// Browser is a headless Chromium with one tab, for one test.
type Browser struct {
	t    testing.TB
	tab  context.Context
	base string

	mu       sync.Mutex
	problems []string
}

// New starts Chromium with a fresh profile; paths given to its methods are
// relative to base (e.g. "http://127.0.0.1:1234"). Without Chromium the test
// is skipped, or fails when ONRAMP_REQUIRE_BROWSER=1.
func New(t testing.TB, base string) *Browser {
	t.Helper()
	if _, err := os.Stat(ExecPath); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s is missing and %s=1: install Debian's chromium package (apt-get install -y chromium)", ExecPath, EnvRequire)
		}
		t.Skipf("%s is missing: install Debian's chromium package (apt-get install -y chromium) to run the browser tests", ExecPath)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ExecPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &Browser{t: t, tab: tab, base: strings.TrimSuffix(base, "/")}
	// The first call starts the browser; it must not carry a deadline.
	if err := chromedp.Listen(tab, b.watch); err != nil {
		t.Fatalf("start %s: %v", ExecPath, err)
	}
	t.Cleanup(b.report)
	return b
}

// watch records what would show as an error in the browser's console.
func (b *Browser) watch(ev any) {
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problem(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *runtime.EventConsoleAPICalled:
		if e.Type == "error" {
			b.problem("console.error called")
		}
	case *log.EventEntryAdded:
		// Network errors are expected when a test cuts the connection or
		// opens a page that answers 404; anything else is a defect.
		if e.Entry.Level == log.EntryLevelError && e.Entry.Source != log.EntrySourceNetwork {
			b.problem(fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	}
}

func (b *Browser) problem(p string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, p)
}

func (b *Browser) report() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser console: %s", p)
	}
}

// URL returns the absolute URL of path.
func (b *Browser) URL(path string) string { return b.base + path }

// Context returns the tab's context, for chromedp calls the helpers lack.
func (b *Browser) Context() context.Context { return b.tab }

// Do runs actions in the tab, failing the test on error.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v\npage:\n%s", err, b.Text())
	}
}

// Open navigates to path, waits for the page to load and returns its HTTP
// status.
func (b *Browser) Open(path string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, Timeout)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.URL(path)))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return int(res.Status)
}

// Eval evaluates a JavaScript expression in the tab and decodes its value.
func Eval[T any](b *Browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// Wait polls a JavaScript expression until it is truthy. It survives
// navigations, so it can wait for the page that a click leads to.
func (b *Browser) Wait(what, js string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page did not show %s within %s (%s; last error %v)\npage at %s:\n%s", what, timeout, js, err, b.Location(), b.Text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Text returns the visible text of the page, for failure messages.
func (b *Browser) Text() string {
	ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	if err != nil {
		return fmt.Sprintf("(no text: %v)", err)
	}
	return s
}

// Location returns the tab's URL.
func (b *Browser) Location() string {
	ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Location())
	return s
}

// OnNewDocument runs js at the start of every page the tab loads from now
// on, before the page's own scripts: a test uses it to record what a page
// shows from its first moment.
func (b *Browser) OnNewDocument(js string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, Timeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		b.t.Fatalf("add script: %v", err)
	}
}

// DisableCache makes the tab fetch everything again, as on a first visit.
func (b *Browser) DisableCache() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, Timeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		b.t.Fatalf("disable cache: %v", err)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a full-page PNG under $ONRAMP_ARTIFACTS (or a temporary
// folder), logs its path and returns it.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		dir = b.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(b.t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s: %s", name, path)
	return path
}
