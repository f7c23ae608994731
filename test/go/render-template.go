// render-template: the reference for tsrun's template engine. It reads a JSON
// array of cases on stdin, renders each with Go's own text/template (plus
// stand-ins of docker/cli's template functions, written the same way) and
// prints a JSON array of {out, err, parse} results. Standard library only;
// test/unit/template-go.test.ts builds and runs it.
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
)

type testCase struct {
	Tpl        string          `json:"tpl"`
	Data       json.RawMessage `json:"data"`
	Struct     bool            `json:"struct"`
	MissingKey string          `json:"missingkey"`
	Header     bool            `json:"header"`
	// Tabwrite: no template; Tpl goes through docker's tabwriter (minwidth 10, tabwidth 1, padding 3, ' ').
	Tabwrite bool `json:"tabwrite"`
}

type result struct {
	Out   string `json:"out"`
	Err   string `json:"err"`
	Parse bool   `json:"parse"`
}

// ctr stands in for docker's *formatter.ContainerContext: values behind methods.
type ctr struct {
	id     string
	name   string
	labels map[string]string
}

func (c *ctr) ID() string            { return c.id }
func (c *ctr) Names() string         { return c.name }
func (c *ctr) Label(n string) string { return c.labels[n] }
func (c *ctr) Labels() string {
	var l []string
	for k, v := range c.labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

var dockerFuncs = template.FuncMap{
	"json": func(v any) string {
		buf := &bytes.Buffer{}
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		return strings.TrimSpace(buf.String())
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    strings.Title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      func(s string, p, q int) string { if s == "" { return s }; return strings.Repeat(" ", p) + s + strings.Repeat(" ", q) },
	"truncate": func(s string, n int) string { if len(s) < n { return s }; return s[:n] },
}

var headerFuncs = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v string, _ string) string { return v },
	"join":     func(v string, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

func run(c testCase) (res result) {
	defer func() {
		if r := recover(); r != nil {
			res.Err = "panic"
		}
	}()
	if c.Tabwrite {
		var out bytes.Buffer
		w := tabwriter.NewWriter(&out, 10, 1, 3, ' ', 0)
		w.Write([]byte(c.Tpl))
		w.Flush()
		return result{Out: out.String()}
	}
	t, err := template.New("").Funcs(dockerFuncs).Parse(c.Tpl)
	if err != nil {
		return result{Err: err.Error(), Parse: true}
	}
	if c.MissingKey != "" {
		t = t.Option("missingkey=" + c.MissingKey)
	}
	var data any
	if c.Struct {
		var raw struct {
			ID     string            `json:"id"`
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		}
		if err := json.Unmarshal(c.Data, &raw); err != nil {
			return result{Err: "bad data: " + err.Error()}
		}
		data = &ctr{raw.ID, raw.Name, raw.Labels}
	} else if c.Header {
		var h map[string]string
		if err := json.Unmarshal(c.Data, &h); err != nil {
			return result{Err: "bad data: " + err.Error()}
		}
		t.Funcs(headerFuncs)
		data = h
	} else if len(c.Data) > 0 {
		if err := json.Unmarshal(c.Data, &data); err != nil {
			return result{Err: "bad data: " + err.Error()}
		}
	}
	var out bytes.Buffer
	err = t.Execute(&out, data)
	res.Out = out.String()
	if err != nil {
		res.Err = err.Error()
	}
	return res
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		os.Stderr.WriteString("render-template: " + err.Error() + "\n")
		os.Exit(2)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = run(c)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		os.Exit(2)
	}
}
