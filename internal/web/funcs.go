package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"duration": func(r feed.PollRun) string {
		if r.Ended.IsZero() {
			return "running"
		}
		return r.Ended.Sub(r.Started).Round(time.Millisecond).String()
	},
	"pathEscape": url.PathEscape,
	"can":        func(p *auth.Principal, perm string) bool { return p.Can(auth.Permission(perm)) },
	"statusClass": func(h feed.Health) string {
		switch {
		case h.Status == feed.ConnectionError || h.ErrorCode != "":
			return "bad"
		case h.Status == feed.Running:
			return "good"
		}
		return "off"
	},
	"statusText": func(h feed.Health) string {
		switch {
		case h.ErrorCode != "" || h.Status == feed.ConnectionError: // the seed's words: the last attempt failed
			return "Connection Error"
		case h.Status == feed.Running:
			return "Running"
		case h.Status == feed.Disabled:
			return "Disabled"
		}
		return string(h.Status)
	},
	"kinds":      feed.Kinds,
	"title":      func(k feed.Kind) string { return k.Title() },
	"channelURL": channelURL,
	"join":       strings.Join,
	"isCurrent":  func(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") },
	"fieldOf": func(f *form, name, label, typ, help string) field {
		return field{Name: name, Label: label, Type: typ, Help: help, Value: f.Values[name], Error: f.Errors[name]}
	},
	"nextURL": nextURL,
	"list":    func(s ...string) []string { return s },
	"advice": func(reports bool, advised int) string {
		if reports {
			return fmt.Sprintf("; %d recommended for reports", advised)
		}
		return ""
	},
}

// field is one labelled input of a form.
type field struct {
	Name, Label, Type, Help, Value, Error string
}

// chartWidth and chartHeight size the poll history chart.
const (
	chartWidth  = 640
	chartHeight = 160
)

// channelChart draws the items of each poll over time as SVG, on the
// server: no chart library, nothing fetched.
func (s *Server) channelChart(w http.ResponseWriter, r *http.Request, v *visit) error {
	runs, err := s.Service.Runs(r.Context(), v.P, channelRef(r), historyLen)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, err = w.Write([]byte(chartSVG(runs)))
	return err
}

// chartSVG draws new, updated and unchanged items per ended poll, oldest
// on the left, as stacked bars.
func chartSVG(runs []feed.PollRun) string {
	var ended []feed.PollRun
	for i := len(runs) - 1; i >= 0; i-- {
		if !runs[i].Ended.IsZero() {
			ended = append(ended, runs[i])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="t">`,
		chartWidth, chartHeight, chartWidth, chartHeight)
	b.WriteString(`<title id="t">Items per poll (new, updated, unchanged), oldest first</title>`)
	if len(ended) == 0 {
		fmt.Fprintf(&b, `<text x="10" y="%d" font-family="sans-serif" font-size="13">No poll has ended yet.</text></svg>`, chartHeight/2)
		return b.String()
	}
	maxItems := 1
	for _, r := range ended {
		maxItems = max(maxItems, r.New+r.Updated+r.Unchanged)
	}
	const top, bottom, left = 16, 20, 40
	plot := chartHeight - top - bottom
	bar := min(float64(chartWidth-left-10)/float64(len(ended)), 48)
	fmt.Fprintf(&b, `<text x="2" y="%d" font-family="sans-serif" font-size="11">%d</text>`, top+4, maxItems)
	fmt.Fprintf(&b, `<text x="2" y="%d" font-family="sans-serif" font-size="11">0</text>`, chartHeight-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, left, chartHeight-bottom, chartWidth-10, chartHeight-bottom)
	for i, r := range ended {
		y := float64(chartHeight - bottom)
		x := float64(left) + float64(i)*bar
		for _, part := range []struct {
			n     int
			color string
			name  string
		}{{r.New, "#2b7a3d", "new"}, {r.Updated, "#c98a00", "updated"}, {r.Unchanged, "#9aa5b1", "unchanged"}} {
			h := float64(part.n) / float64(maxItems) * float64(plot)
			y -= h
			if part.n > 0 {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %d %s</title></rect>`,
					x+1, y, max(bar-2, 1), h, part.color, r.Started.UTC().Format("2006-01-02 15:04"), part.n, part.name)
			}
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-family="sans-serif" font-size="11">%s</text>`, left, chartHeight-4, ended[0].Started.UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-family="sans-serif" font-size="11" text-anchor="end">%s</text>`, chartWidth-10, chartHeight-4,
		ended[len(ended)-1].Started.UTC().Format("2006-01-02"))
	b.WriteString(`</svg>`)
	return b.String()
}
