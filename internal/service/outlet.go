package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/outlet"
	"github.com/flintcti/flint/internal/store"
)

// DeprecationStep is the step at which a blocklist that leaves deprecated
// indicators out applies deprecation: an indicator whose validity ends
// within a step leaves the list at the step's end. Between writes of the
// store, the list (and its validator) changes at most once a step, so a
// firewall refreshing more often is mostly answered 304.
const DeprecationStep = 5 * time.Minute

// SaveList creates a blocklist, or replaces the definition of the one of
// its name.
func (s *Service) SaveList(ctx context.Context, p *auth.Principal, l outlet.List) (outlet.List, error) {
	if err := need(p, auth.ManageOutlets); err != nil {
		return l, err
	}
	l.CreatedBy = p.Actor()
	saved, err := s.Store.SaveList(ctx, l)
	if err != nil {
		return saved, err
	}
	s.audit(ctx, p, "list.save", "list:"+saved.Name, saved)
	return saved, nil
}

// Lists returns the blocklists' definitions; a key bound to a list sees
// that one alone.
func (s *Service) Lists(ctx context.Context, p *auth.Principal) ([]outlet.List, error) {
	if err := need(p, auth.ViewAPIFeed); err != nil {
		return nil, err
	}
	ls, err := s.Store.Lists(ctx)
	out := []outlet.List{}
	for _, l := range ls {
		if p.List == "" || p.List == l.Name {
			out = append(out, l)
		}
	}
	return out, err
}

// List returns a blocklist's definition.
func (s *Service) List(ctx context.Context, p *auth.Principal, name string) (outlet.List, error) {
	if err := need(p, auth.ViewAPIFeed); err != nil {
		return outlet.List{}, err
	}
	if p.List != "" && p.List != name {
		return outlet.List{}, intel.Errorf(intel.ENOTFOUND, "no list named %q", name)
	}
	return s.Store.List(ctx, name)
}

// RemoveList removes a blocklist and revokes the keys bound to it.
func (s *Service) RemoveList(ctx context.Context, p *auth.Principal, name string) error {
	if err := need(p, auth.ManageOutlets); err != nil {
		return err
	}
	if err := s.Store.DeleteList(ctx, name); err != nil {
		return err
	}
	s.audit(ctx, p, "list.remove", "list:"+name, nil)
	return nil
}

// Allows returns the allow-list.
func (s *Service) Allows(ctx context.Context, p *auth.Principal) ([]outlet.Allow, error) {
	if err := need(p, auth.ManageOutlets); err != nil {
		return nil, err
	}
	as, err := s.Store.Allows(ctx)
	if as == nil {
		as = []outlet.Allow{}
	}
	return as, err
}

// AddAllow adds a value, a CIDR range or a *.domain to the allow-list.
func (s *Service) AddAllow(ctx context.Context, p *auth.Principal, entry, note string) (outlet.Allow, error) {
	if err := need(p, auth.ManageOutlets); err != nil {
		return outlet.Allow{}, err
	}
	a, err := outlet.ParseAllow(entry)
	if err != nil {
		return a, err
	}
	a.Note, a.CreatedBy = note, p.Actor()
	if a, err = s.Store.AddAllow(ctx, a); err != nil {
		return a, err
	}
	s.audit(ctx, p, "allow.add", fmt.Sprintf("allow:%d %s %s", a.ID, a.Kind, a.Value), nil)
	return a, nil
}

// RemoveAllow removes an entry of the allow-list, a default one too.
func (s *Service) RemoveAllow(ctx context.Context, p *auth.Principal, id int64) error {
	if err := need(p, auth.ManageOutlets); err != nil {
		return err
	}
	if err := s.Store.RemoveAllow(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, p, "allow.remove", fmt.Sprintf("allow:%d", id), nil)
	return nil
}

// ListVersion is what a reader of a blocklist checks before reading it
// again: a validator that changes whenever the list's content may have,
// and when that was.
type ListVersion struct {
	List         outlet.List
	ETag         string    // quoted, as HTTP sends it
	LastModified time.Time // whole seconds
	cap          intel.TLP
	asOf         time.Time // the deprecation step the list is served at
}

// ListVersion finds a blocklist p may read and its version: its validator
// covers the list's definition, the allow-list, the store's last write,
// the reader's TLP cap and the deprecation step; reading it costs two index
// probes.
func (s *Service) ListVersion(ctx context.Context, p *auth.Principal, name string) (ListVersion, error) {
	l, err := s.List(ctx, p, name)
	if err != nil {
		return ListVersion{}, err
	}
	objects, allow, err := s.Store.OutletVersion(ctx)
	if err != nil {
		return ListVersion{}, err
	}
	v := ListVersion{List: l, cap: mostRestrictiveCap(p.Cap(), l.MaxTLP)}
	last := l.Updated
	for _, t := range []time.Time{objects, allow} {
		if t.After(last) {
			last = t
		}
	}
	if l.ExcludeDeprecated {
		v.asOf = s.now().Truncate(DeprecationStep)
		if v.asOf.After(last) {
			last = v.asOf
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%d\x00%d\x00%d\x00%s\x00%d", l.ID, l.Updated.UnixMicro(), objects.UnixMicro(), allow.UnixMicro(), v.cap, v.asOf.Unix())
	v.ETag = `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	v.LastModified = last.Truncate(time.Second)
	return v, nil
}

// mostRestrictiveCap is the lower of two caps ("" : no cap).
func mostRestrictiveCap(a, b intel.TLP) intel.TLP {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	case b.Rank() < a.Rank():
		return b
	}
	return a
}

// errFull ends a list's walk at its limit.
var errFull = errors.New("the list is full")

// listPage is the number of objects a CSV blocklist reads at a time.
const listPage = 1000

// WriteList writes the blocklist of v to w: the stored indicators its
// definition selects, below the reader's and the list's TLP caps, none on
// the allow-list, in its format, streamed a page at a time. It returns the
// number of values written.
func (s *Service) WriteList(ctx context.Context, v ListVersion, w io.Writer) (int, error) {
	l := v.List
	allows, err := s.Store.Allows(ctx)
	if err != nil {
		return 0, err
	}
	allowed := outlet.NewAllowed(allows)
	q := store.Query{Types: l.IntelTypes(), Collection: l.Collection, MinConfidence: l.MinConfidence, Scores: outlet.Scores(l.MinScore),
		MaxTLP: v.cap, Limit: listPage, NotDeprecatedAt: v.asOf}
	if err := l.Header(w); err != nil {
		return 0, err
	}
	n := 0
	// write writes one value; errFull ends the walk at the list's limit.
	write := func(t intel.Type, value string, hashes map[intel.HashAlgo]string, o *intel.Object) error {
		entry, typ, ok := l.Entry(t, value, hashes)
		if !ok || allowed.Contains(t, entry) {
			return nil
		}
		if err := l.Line(w, entry, typ, o); err != nil {
			return err
		}
		if n++; l.Limit > 0 && n >= l.Limit {
			return errFull
		}
		return nil
	}
	if l.Format != outlet.CSV { // values alone: one streamed query
		err := s.Store.EachValue(ctx, q, l.HashTypes(), func(v store.Value) error { return write(v.Type, v.Value, v.Hashes, nil) })
		if errors.Is(err, errFull) {
			err = nil
		}
		return n, err
	}
	for { // CSV rows carry the sources: pages of whole objects
		res, err := s.Store.Search(ctx, q)
		if err != nil {
			return n, err
		}
		for i := range res.Objects {
			o := &res.Objects[i]
			if err := write(o.Type, o.Value, o.Hashes, o); err != nil {
				if errors.Is(err, errFull) {
					return n, nil
				}
				return n, err
			}
		}
		if res.Next == "" {
			return n, nil
		}
		q.After = res.Next
	}
}
