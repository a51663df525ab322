package templates

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"text/template"
)

// file is one file a template renders: where it goes in the repository and
// what produces it.
type file struct {
	target string             // slash-separated, relative to the repository root
	source string             // the source as shown in errors
	tmpl   *template.Template // nil for a verbatim file
	raw    []byte             // a verbatim file's contents
}

// mapping is one source file and the target the files: list maps it to.
type mapping struct {
	source, target string
	line           int
	verbatim       bool
}

// mapFiles resolves the template's files: list into the files it renders,
// sorted by target, parsing each one. Nothing outside the list is rendered.
func mapFiles(fsys fs.FS, origin string, entries []fileSpec, ps *problems) []file {
	var ms []mapping
	for _, e := range entries {
		got, err := e.expand(fsys)
		if err != nil {
			ps.add(e.line, "files: %v", err)
			continue
		}
		ms = append(ms, got...)
	}
	byTarget := map[string]int{}
	var out []file
	for _, m := range ms {
		if prev, dup := byTarget[m.target]; dup {
			ps.add(m.line, "files: target %s is also produced by the entry at line %d", m.target, prev)
			continue
		}
		byTarget[m.target] = m.line
		f, err := m.load(fsys, origin)
		if err != nil {
			ps.addErr(err)
			continue
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b file) int { return strings.Compare(a.target, b.target) })
	return out
}

// expand lists the source files of one files: entry and their targets: a
// directory source is copied under the target directory, a file source goes
// to the target path, or into it when the target ends with "/".
func (e *fileSpec) expand(fsys fs.FS) ([]mapping, error) {
	src, err := cleanRel(e.Source)
	if err != nil {
		return nil, fmt.Errorf("source %w", err)
	}
	tgt, err := cleanRel(e.Target)
	if err != nil {
		return nil, fmt.Errorf("target %w", err)
	}
	info, err := fs.Stat(fsys, src)
	if err != nil {
		return nil, fmt.Errorf("source %q does not exist in the template directory", e.Source)
	}
	if !info.IsDir() {
		if strings.HasSuffix(e.Source, "/") {
			return nil, fmt.Errorf("source %q is a file, not a directory", e.Source)
		}
		if strings.HasSuffix(e.Target, "/") || tgt == "." {
			tgt = path.Join(tgt, path.Base(src))
		}
		return e.checked([]mapping{{source: src, target: tgt}})
	}
	var ms []mapping
	err = fs.WalkDir(fsys, src, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file (symbolic links are not followed)", p)
		}
		rel := strings.TrimPrefix(p, src+"/")
		if src == "." {
			rel = p
		}
		ms = append(ms, mapping{source: p, target: path.Join(tgt, rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", e.Source, err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("source directory %q holds no files", e.Source)
	}
	return e.checked(ms)
}

// checked refuses targets Git would not store as plain files and records
// the entry's line and verbatim flag.
func (e *fileSpec) checked(ms []mapping) ([]mapping, error) {
	for i := range ms {
		if ms[i].target == "." || slices.Contains(strings.Split(ms[i].target, "/"), ".git") {
			return nil, fmt.Errorf("target %q is not a file path the repository can hold", ms[i].target)
		}
		ms[i].line, ms[i].verbatim = e.line, e.Verbatim
	}
	return ms, nil
}

// load reads a mapped source and parses it as a Go template, unless it is
// verbatim. A template is named by its path so that its errors name it.
func (m mapping) load(fsys fs.FS, origin string) (file, error) {
	shown := origin + "/" + m.source
	b, err := fs.ReadFile(fsys, m.source)
	if err != nil {
		return file{}, &LoadError{File: shown, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	f := file{target: m.target, source: shown}
	if m.verbatim {
		f.raw = b
		return f, nil
	}
	f.tmpl, err = template.New(shown).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return file{}, &LoadError{Msg: strings.TrimPrefix(err.Error(), "template: ")}
	}
	return f, nil
}
