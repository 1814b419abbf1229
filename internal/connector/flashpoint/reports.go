package flashpoint

import (
	"context"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
)

// FeaturedTag marks Flashpoint's featured reports.
const FeaturedTag = "Flashpoint Featured Report"

// Reports are read window by window (window.go): the order they are asked
// in is known only from one integrator's code, and a window does not rest
// on it; a report window holds some hundreds of reports.
func (p *Poll) nextReports(ctx context.Context) (*Batch, error) {
	size := min(p.c.size(), 100) // report pages are heavy: bodies can be megabytes
	p.openWindow()
	// No upper bound: the API has none for reports.
	q := ignite.ReportQuery{Limit: size, UpdatedSince: p.cur.Since, Sort: "updated_at:asc"}
	idOf := func(r *ignite.Report) string { return r.ID }
	page, err := windowPage(p, idOf, func(from int) (*ignite.Page[ignite.Report], error) {
		q.Skip = from
		return p.c.Client.ListReports(ctx, q)
	})
	if err != nil {
		return nil, err
	}
	b, err := p.reportBatch(ctx, page)
	if err != nil {
		return nil, err
	}
	windowAdvance(p, page, size, idOf)
	b.Cursor = p.cur.String()
	return b, nil
}

// reportBatch maps a page of reports with their events, leaving out those
// read already in this poll.
func (p *Poll) reportBatch(ctx context.Context, page *ignite.Page[ignite.Report]) (*Batch, error) {
	b := &Batch{Counts: feed.Counts{Listed: page.Count(), Invalid: len(page.Invalid)}, Remaining: remaining(page)}
	for i := range page.Items {
		r := &page.Items[i]
		if strings.TrimSpace(r.ID) == "" {
			b.Counts.Invalid++
			p.invalid++ // counted against the window's total
			continue
		}
		if !p.seen.firstString(r.ID) {
			continue
		}
		if err := p.mapReport(ctx, r, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// mapReport adds a report, the indicators of its events and their
// relationships to b.
func (p *Poll) mapReport(ctx context.Context, r *ignite.Report, b *Batch) error {
	reported := r.UpdatedAt.Time
	if reported.IsZero() {
		reported = r.PostedAt.Time
	}
	tags := append([]string(nil), r.Tags...)
	if r.IsFeatured {
		tags = append(tags, FeaturedTag)
	}
	o := p.base(intel.Report, r.ID, reported, tags)
	o.Name, o.Description, o.OriginalID, o.PlatformURL = r.Title, r.Summary, r.ID, r.PlatformURL
	o.FirstSeen = r.PostedAt.Time.UTC()
	o.ValidUntil = time.Time{} // reports do not expire
	rd := &intel.ReportDetail{Body: r.Body, PostedAt: r.PostedAt.Time.UTC(), UpdatedAt: r.UpdatedAt.Time.UTC(),
		Actors: r.Actors, Featured: r.IsFeatured}
	for _, s := range r.Sources {
		if s.Title != nil && *s.Title != "" {
			rd.Sources = append(rd.Sources, *s.Title)
		} else if s.Source != nil && *s.Source != "" {
			rd.Sources = append(rd.Sources, *s.Source)
		}
	}
	o.Report = rd
	o.ActorNames = r.Actors
	b.Objects = append(b.Objects, o)

	events := p.c.Client.Events(ignite.EventQuery{Report: r.ID, Limit: 100})
	for events.More() {
		page, err := events.Next(ctx)
		if err != nil {
			return err
		}
		b.Counts.Invalid += len(page.Invalid)
		for i := range page.Items {
			ev := &page.Items[i]
			var evTags []string
			for _, t := range ev.Event.Tag {
				if !t.IsGalaxy && t.Name != "" {
					evTags = append(evTags, t.Name)
				}
			}
			attrs := ev.Event.Attribute
			for _, obj := range ev.Event.Object {
				attrs = append(attrs, obj.Attribute...)
			}
			for j := range attrs {
				ind, ok, supported := p.mapAttribute(&attrs[j], reported, evTags, ev.AttackIDs)
				switch {
				case !supported:
					b.Counts.Unsupported++
				case !ok:
					b.Counts.Invalid++
				default:
					b.Objects = append(b.Objects, ind)
					b.Relationships = append(b.Relationships, intel.Relationship{Source: o.Ref(), Type: intel.RelRelatedTo, Target: ind.Ref()})
				}
			}
		}
	}
	return nil
}

// mispTypes maps MISP attribute types to Flint's; the part before "|" of a
// composite type names its value's first part.
var mispTypes = map[string]intel.Type{
	"ip-src": "ip", "ip-dst": "ip", "ip-src|port": "ip", "ip-dst|port": "ip", "domain|ip": intel.Domain,
	"domain": intel.Domain, "hostname": intel.Domain, "hostname|port": intel.Domain,
	"url": intel.URL, "link": intel.URL,
	"md5": intel.File, "sha1": intel.File, "sha256": intel.File, "sha512": intel.File,
	"filename|md5": intel.File, "filename|sha1": intel.File, "filename|sha256": intel.File, "filename|sha512": intel.File,
	"filename": intel.Filename,
	"email":    intel.Email, "email-src": intel.Email, "email-dst": intel.Email,
	"mutex": intel.Mutex, "regkey": intel.RegistryKey, "regkey|value": intel.RegistryKey,
	"user-agent": intel.UserAgent, "AS": intel.ASN,
}

// mapAttribute maps one MISP attribute. supported is false for types Flint
// does not map (counted, not dropped silently); ok is false when the value
// does not normalise.
func (p *Poll) mapAttribute(a *ignite.Attribute, reported time.Time, tags, attackIDs []string) (o intel.Object, ok, supported bool) {
	t, known := mispTypes[a.Type]
	if !known {
		return o, false, false
	}
	raw := a.Value[a.Type]
	if raw == "" {
		for k, v := range a.Value {
			if k != "comment" && v != "" {
				raw = v
				break
			}
		}
	}
	parts := strings.Split(raw, "|")
	value := parts[0]
	if strings.HasPrefix(a.Type, "filename|") && len(parts) == 2 {
		value = parts[1]
	}
	var err error
	if t == "ip" {
		var detected intel.Type
		detected, value, err = indicator.Detect(value)
		if err == nil && detected != intel.IPv4 && detected != intel.IPv6 {
			return o, false, true
		}
		t = detected
	} else {
		value, err = indicator.Normalize(t, value)
	}
	if err != nil {
		return o, false, true
	}
	o = p.base(t, value, reported, tags)
	o.OriginalID = a.FPID
	if o.OriginalID == "" {
		o.OriginalID = a.UUID
	}
	if a.FirstSeen.IsSet() {
		o.FirstSeen = a.FirstSeen.Time.UTC()
	}
	if a.LastSeen.IsSet() {
		o.LastSeen = a.LastSeen.Time.UTC()
	}
	if t == intel.File {
		if algo, ok := indicator.HashAlgoOf(value); ok {
			o.Hashes = map[intel.HashAlgo]string{algo: value}
		}
	}
	for _, id := range attackIDs {
		o.AttackPatterns = append(o.AttackPatterns, strings.ToUpper(id))
	}
	return o, true, true
}
