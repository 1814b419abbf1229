package service

import (
	"context"
	"io"
	"slices"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/stix"
	"github.com/flintcti/flint/internal/store"
)

// exportPageLen is the number of objects an export reads at a time.
const exportPageLen = 500

// Exported says what an export wrote.
type Exported struct {
	Objects     int `json:"objects"`      // Flint objects exported
	STIXObjects int `json:"stix_objects"` // STIX objects written (indicators, observables, relationships, ...)
}

// ExportSTIX writes the objects matching q that p may see as one STIX 2.1
// bundle to w, with the relationships among them, reading them a page at a
// time: the memory an export takes does not grow with its size. The
// bundle is complete only when the error is nil; a failure may leave w
// with part of one. q's limit, cursor and sort are ignored (the export
// walks the objects in id order).
func (s *Service) ExportSTIX(ctx context.Context, p *auth.Principal, q store.Query, w io.Writer) (Exported, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return Exported{}, err
	}
	q.MaxTLP, q.Limit, q.After, q.Sort, q.IDs = p.Cap(), exportPageLen, "", "", nil
	q.Bare = true           // STIX carries neither an object's sources nor its collections
	sw := stix.NewWriter(w) // buffered: nothing reaches w before the first page is read
	var out Exported
	for {
		res, err := s.Store.Search(ctx, q)
		if err != nil {
			return out, err
		}
		page, err := s.exportPage(ctx, q, res.Objects)
		if err != nil {
			return out, err
		}
		if err := sw.Write(page); err != nil {
			return out, err
		}
		out.Objects += len(res.Objects)
		if res.Next == "" {
			break
		}
		if err := sw.Flush(); err != nil { // the client sees the bundle grow
			return out, err
		}
		q.After = res.Next
	}
	if err := sw.Close(); err != nil {
		return out, err
	}
	out.STIXObjects = sw.Count()
	return out, nil
}

// exportPage builds the STIX page of objs: their relationships to objects
// of the export (those matching q, on this page or another), each written
// with the later of its two ends in id order, so once; and the report
// links that fill object_refs.
func (s *Service) exportPage(ctx context.Context, q store.Query, objs []intel.Object) (stix.Page, error) {
	page := stix.Page{Objects: objs}
	if len(objs) == 0 {
		return page, nil
	}
	byID := make(map[int64]*intel.Object, len(objs))
	ids := make([]int64, len(objs))
	for i := range objs {
		byID[objs[i].ID], ids[i] = &objs[i], objs[i].ID
	}
	links, known, err := s.linksAndEnds(ctx, ids, byID, q)
	if err != nil {
		return page, err
	}
	end := func(id int64) *intel.Object {
		if o := byID[id]; o != nil {
			return o
		}
		return known[id]
	}
	usedKnown := map[int64]bool{}
	for _, l := range links {
		src, dst := end(l.Source), end(l.Target)
		if src == nil || dst == nil {
			continue // an end outside the export: the bundle refers only to what it holds
		}
		r := intel.Relationship{Source: src.Ref(), Type: l.Type, Target: dst.Ref()}
		later := l.Source
		if l.Target > later {
			later = l.Target
		}
		if byID[later] != nil {
			page.Relationships = append(page.Relationships, r)
		}
		if (src.Type == intel.Report && byID[l.Source] != nil) || (dst.Type == intel.Report && byID[l.Target] != nil) {
			page.ReportRelationships = append(page.ReportRelationships, r)
		}
		for _, id := range []int64{l.Source, l.Target} {
			if byID[id] == nil && !usedKnown[id] {
				usedKnown[id] = true
				page.Known = append(page.Known, *known[id])
			}
		}
	}
	return page, nil
}

// linksAndEnds returns the relationships with an end among ids (the
// objects byID holds), and those of their other ends that match q (its
// IDs, cursor and limit are set here): the ends a reader may be shown.
func (s *Service) linksAndEnds(ctx context.Context, ids []int64, byID map[int64]*intel.Object, q store.Query) ([]store.Link, map[int64]*intel.Object, error) {
	links, err := s.Store.Links(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	var others []int64
	for _, l := range links {
		for _, id := range []int64{l.Source, l.Target} {
			if byID[id] == nil {
				others = append(others, id)
			}
		}
	}
	slices.Sort(others)
	others = slices.Compact(others)
	ends := map[int64]*intel.Object{}
	for len(others) > 0 {
		n := min(len(others), store.MaxIDs)
		oq := q
		oq.IDs, oq.After, oq.Limit = others[:n], "", n
		res, err := s.Store.Search(ctx, oq)
		if err != nil {
			return nil, nil, err
		}
		for i := range res.Objects {
			ends[res.Objects[i].ID] = &res.Objects[i]
		}
		others = others[n:]
	}
	return links, ends, nil
}
