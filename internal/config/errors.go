package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Error is one problem found by [Decode], [Load], [ApplyEnv] or [Validate].
// Those functions return every Error they found, joined with [errors.Join];
// use [errors.As] or the Unwrap() []error method to reach them one by one.
//
// Its message reads "SOURCE:LINE: PATH: ERR", leaving out the parts that are
// unknown: "config.yaml:3: capture.shards: cannot use "abc" as integer",
// "NUNCHI_CAPTURE_SHARDS: capture.shards: cannot use "abc" as integer",
// "capture.shards: must be >= 0".
type Error struct {
	Source string // file name given to Decode or Load, or the environment variable; "" for Validate
	Line   int    // 1-based line in Source; 0 when not from a file
	Column int    // 1-based column in Source; 0 when not from a file
	Path   string // key path such as "capture.shards" or "lists[2].id"; "" for the document itself
	Err    error  // what is wrong
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// maxErrors caps the errors reported for one call; a file with thousands of
// mistakes is better served by the first hundred and a count.
const maxErrors = 100

// errorList collects the errors of one call.
type errorList struct {
	source string
	errs   []*Error
	seen   map[string]bool // dedupKey of every error in errs
}

func (l *errorList) add(n *yaml.Node, path string, err error) {
	e := &Error{Source: l.source, Path: path, Err: err}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	l.append(e)
}

// append adds e unless an error with the same dedupKey is there already. A
// node reached through several aliases reports the same problem each time,
// under each path; the first, usually the path written in the file, is kept.
func (l *errorList) append(e *Error) {
	if l.seen == nil {
		l.seen = make(map[string]bool)
	}
	k := e.dedupKey()
	if l.seen[k] {
		return
	}
	l.seen[k] = true
	l.errs = append(l.errs, e)
}

// dedupKey identifies the problem e reports: in a file, one per position;
// elsewhere the path tells problems apart.
func (e *Error) dedupKey() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s\x00%d:%d\x00%s", e.Source, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s\x00%s\x00%s", e.Source, e.Path, e.Err)
}

func (l *errorList) addf(n *yaml.Node, path, format string, args ...any) {
	l.add(n, path, fmt.Errorf(format, args...))
}

// join sorts the errors by position (stable: errors without a position stay
// in the order found) and joins the first maxErrors of them.
func (l *errorList) join() error {
	if len(l.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(l.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	out := make([]error, 0, min(len(l.errs), maxErrors+1))
	for _, e := range l.errs[:min(len(l.errs), maxErrors)] {
		out = append(out, e)
	}
	if n := len(l.errs) - maxErrors; n > 0 {
		out = append(out, fmt.Errorf("%d more errors not shown", n))
	}
	return errors.Join(out...)
}

// quote renders a scalar for an error message, shortened if long.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// describe names what a node holds, for "cannot use X as Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return quote(n.Value)
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.DocumentNode:
		return "document"
	case yaml.AliasNode:
		return "alias"
	}
	return "nothing"
}
