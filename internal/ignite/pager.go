package ignite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	gojson "github.com/goccy/go-json"
)

// ErrDone is returned by Pager.Next after the last page.
var ErrDone = errors.New("ignite: no more pages")

// Invalid is a list item that could not be decoded (for example a field of
// the wrong JSON type). The rest of its page is kept.
type Invalid struct {
	Raw json.RawMessage
	Err string
}

// Page is one page of a list endpoint.
type Page[T any] struct {
	Items   []T
	Invalid []Invalid
	Total   int      // total matches, -1 when the server did not say
	Offset  int      // offset of the first item
	Size    int      // page size requested
	Next    Nullable // the next link, for endpoints that send one
}

// Count is the number of items on the page, invalid ones included.
func (p *Page[T]) Count() int { return len(p.Items) + len(p.Invalid) }

type rawSetter[T any] interface {
	*T
	setRaw(json.RawMessage)
}

func (r *Report) setRaw(b json.RawMessage)        { r.Raw = b }
func (e *Event) setRaw(b json.RawMessage)         { e.Raw = b }
func (v *Vulnerability) setRaw(b json.RawMessage) { v.Raw = b }
func (i *Indicator) setRaw(b json.RawMessage)     { i.Raw = b }

// decodeItems decodes each raw item on its own so one malformed item does
// not lose the page.
// Each raw is copied: it may point into a pooled response buffer.
func decodeItems[T any, PT rawSetter[T]](raws [][]byte) ([]T, []Invalid) {
	items := make([]T, 0, len(raws))
	var bad []Invalid
	for _, r := range raws {
		raw := json.RawMessage(bytes.Clone(r))
		var v T
		if err := gojson.Unmarshal(raw, &v); err != nil {
			bad = append(bad, Invalid{Raw: raw, Err: err.Error()})
			continue
		}
		PT(&v).setRaw(raw)
		items = append(items, v)
	}
	return items, bad
}

// Pager walks a list endpoint page by page. It stops on an empty page, a
// null next link, or when the total is reached (re-read on every page, so a
// total that changes mid-way is followed); a next link that does not advance
// is an error, never an endless loop. A failed Next leaves the pager where it
// was, so it can be called again.
type Pager[T any] struct {
	fetch  func(ctx context.Context, from int, link *url.URL) (*Page[T], error)
	rebase func(link string) (*url.URL, error)
	from   int
	link   *url.URL
	done   bool
	pages  int
	items  int
}

// More reports whether Next may return another page.
func (p *Pager[T]) More() bool { return !p.done }

// Offset is the offset of the next page to fetch.
func (p *Pager[T]) Offset() int { return p.from }

// Pages and Items count what was fetched so far.
func (p *Pager[T]) Pages() int { return p.pages }

// Items counts the items fetched so far, invalid ones included.
func (p *Pager[T]) Items() int { return p.items }

// Next fetches the next page. It returns ErrDone after the last page. When
// paging stalls it returns the page it got together with a bad-response error.
func (p *Pager[T]) Next(ctx context.Context) (*Page[T], error) {
	if p.done {
		return nil, ErrDone
	}
	page, err := p.fetch(ctx, p.from, p.link)
	if err != nil {
		return nil, err
	}
	p.pages++
	n := page.Count()
	p.items += n
	if n == 0 {
		p.done = true
		return page, nil
	}
	next := p.from + n
	if page.Next.Present {
		if page.Next.Null || page.Next.Value == "" {
			p.done = true
			return page, nil
		}
		link, err := p.rebase(page.Next.Value)
		if err != nil {
			p.done = true
			return page, &Error{Class: ClassBadResponse, Message: err.Error()}
		}
		if f, ok := offsetOf(link); ok {
			if f <= p.from {
				p.done = true
				return page, &Error{Class: ClassBadResponse,
					Message: fmt.Sprintf("paging does not advance: next link asks for offset %d again after offset %d", f, p.from)}
			}
			next = f
		} else if p.link != nil && link.String() == p.link.String() {
			p.done = true
			return page, &Error{Class: ClassBadResponse, Message: "paging does not advance: next link repeats the current page"}
		}
		p.link = link
	} else {
		p.link = nil
		if page.Total < 0 && page.Size > 0 && n < page.Size {
			p.done = true
		}
	}
	if page.Total >= 0 && next >= page.Total {
		p.done = true
	}
	p.from = next
	return page, nil
}

func offsetOf(u *url.URL) (int, bool) {
	q := u.Query()
	for _, k := range []string{"from", "skip"} {
		if v := q.Get(k); v != "" {
			n, err := strconv.Atoi(v)
			return n, err == nil
		}
	}
	return 0, false
}

// listField returns the elements of the list under key in a JSON object
// body: ok is false when the key is absent; a null list is empty.
func listField(r *response, key string) (fields map[string][]byte, elems [][]byte, ok bool, err error) {
	fields, err = objectFields(r.body)
	if err != nil {
		return nil, nil, false, &Error{Class: ClassBadResponse, Status: r.status, Message: describeJSONError(r.body, err)}
	}
	raw, ok := fields[key]
	if !ok {
		return fields, nil, false, nil
	}
	if string(raw) == "null" {
		return fields, nil, true, nil
	}
	elems, err = arrayElements(raw)
	if err != nil {
		return nil, nil, false, &Error{Class: ClassBadResponse, Status: r.status, Message: fmt.Sprintf("%q is not a list: %v", key, err)}
	}
	return fields, elems, true, nil
}

// field decodes one envelope field into v when present.
func field(r *response, fields map[string][]byte, key string, v any) error {
	raw, ok := fields[key]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &Error{Class: ClassBadResponse, Status: r.status, Message: fmt.Sprintf("envelope field %q: %v", key, err)}
	}
	return nil
}
