package templates

import (
	"errors"
	"fmt"
)

// LoadError is a problem in a template found when it is loaded, located at
// a file and, when known, a line: "templates/bad/template.yaml:12: ...".
type LoadError struct {
	File string // the file as given to New, or under templates/builtin/
	Line int    // 1-based; 0 when the problem is the whole file
	Msg  string // what is wrong and, where it helps, what would be right
}

// Error formats the problem as "file:line: message", the form editors and
// terminals link to.
func (e *LoadError) Error() string {
	switch {
	case e.File == "":
		return e.Msg
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
}

// problems collects every problem of one template, so that its author sees
// them all at once instead of one per restart.
type problems struct {
	file string // template.yaml, as shown to the user
	errs []error
}

// add records a problem at a line of template.yaml.
func (p *problems) add(line int, format string, args ...any) {
	p.errs = append(p.errs, &LoadError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// addErr records a problem that already says where it is.
func (p *problems) addErr(err error) {
	p.errs = append(p.errs, err)
}

func (p *problems) empty() bool { return len(p.errs) == 0 }

func (p *problems) err() error { return errors.Join(p.errs...) }
