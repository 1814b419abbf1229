package store

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
)

// LookupResult answers one value of a lookup.
type LookupResult struct {
	Query  string        `json:"query"`
	Type   intel.Type    `json:"type,omitempty"`
	Value  string        `json:"value,omitempty"` // normalised
	Found  bool          `json:"found"`
	Object *intel.Object `json:"object,omitempty"`
	Error  string        `json:"error,omitempty"` // why the value could not be read
}

// cveID is a CVE identifier, as a lookup takes it (upper-cased).
var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// MaxLookup is the most values one Lookup takes.
const MaxLookup = 10000

// Lookup answers "is this a known indicator?" for each value (a CVE id or a
// vulnerability's title finds the vulnerability): the value's
// type is detected and the value normalised (defanged input is accepted);
// a hash finds the file stored under any of its hashes. Results come back in
// the order of values, each with the object's sources and collections.
func (s *Store) Lookup(ctx context.Context, values []string) ([]LookupResult, error) {
	if len(values) > MaxLookup {
		return nil, intel.Errorf(intel.EINVALID, "lookup of %d values; at most %d at once", len(values), MaxLookup)
	}
	// A bulk lookup is cut into shards looked up at once on the reader pool
	// (the work is CPU-bound; one goroutine would use one core).
	shards := min(runtime.GOMAXPROCS(0), lookupShards, len(values)/lookupShardMin)
	if shards < 2 {
		return s.lookup(ctx, values)
	}
	out := make([]LookupResult, len(values))
	g, gctx := errgroup.WithContext(ctx)
	size := (len(values) + shards - 1) / shards
	for from := 0; from < len(values); from += size {
		to := min(from+size, len(values))
		g.Go(func() error {
			res, err := s.lookup(gctx, values[from:to])
			copy(out[from:to], res)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// A bulk lookup runs in at most lookupShards shards of at least
// lookupShardMin values.
const (
	lookupShards   = 4
	lookupShardMin = 1000
)

func (s *Store) lookup(ctx context.Context, values []string) ([]LookupResult, error) {
	out := make([]LookupResult, len(values))
	var keys []refKey
	var hashes []string
	var titles []int // values that are no indicator, tried as vulnerability titles
	for i, v := range values {
		out[i].Query = v
		if id := strings.ToUpper(strings.TrimSpace(v)); cveID.MatchString(id) {
			out[i].Type, out[i].Value = intel.Vulnerability, id
			keys = append(keys, keyOf(intel.Vulnerability, id))
			continue
		}
		t, nv, err := indicator.Detect(v)
		if err != nil {
			out[i].Error = intel.ErrorMessage(err)
			if title := strings.TrimSpace(v); title != "" {
				titles = append(titles, i)
				keys = append(keys, keyOf(intel.Vulnerability, title))
			}
			continue
		}
		out[i].Type, out[i].Value = t, nv
		keys = append(keys, keyOf(t, nv))
	}
	found, err := s.loadByKeys(ctx, nil, keys, false)
	if err != nil {
		return nil, err
	}
	// A value that is no indicator may be a vulnerability's title (the seed's
	// playbooks look vulnerabilities up by CVE id or by title): the value of
	// one without a CVE id holds its title and Flashpoint id, and its name
	// the title alone.
	var named []string
	for _, i := range titles {
		named = append(named, strings.TrimSpace(out[i].Query))
	}
	byTitle, err := s.loadByTitles(ctx, named)
	if err != nil {
		return nil, err
	}
	for _, i := range titles {
		title := strings.TrimSpace(out[i].Query)
		if o := byTitle[title]; o != nil && found[keyOf(intel.Vulnerability, title)] == nil {
			found[keyOf(intel.Vulnerability, o.Value)] = o
			out[i].Type, out[i].Value, out[i].Error = intel.Vulnerability, o.Value, ""
		} else if found[keyOf(intel.Vulnerability, title)] != nil {
			out[i].Type, out[i].Value, out[i].Error = intel.Vulnerability, title, ""
		} else {
			out[i].Error += ", nor a known vulnerability title"
		}
	}
	// A hash that is no file's own value may be another hash of one (a
	// file stored under its SHA-256, asked for by its MD5).
	for i := range out {
		if out[i].Type == intel.File && found[keyOf(intel.File, out[i].Value)] == nil {
			hashes = append(hashes, out[i].Value)
		}
	}
	byHash, err := s.loadByHashes(ctx, hashes)
	if err != nil {
		return nil, err
	}
	// Each object once, however many values found it; then its sources.
	var objs []intel.Object
	at := map[int64]int{}
	hit := make([]int64, len(out))
	for i := range out {
		o := found[keyOf(out[i].Type, out[i].Value)]
		if o == nil && out[i].Type == intel.File {
			o = byHash[out[i].Value]
		}
		if o == nil || out[i].Type == "" {
			continue
		}
		hit[i] = o.ID
		if _, ok := at[o.ID]; !ok {
			at[o.ID] = len(objs)
			objs = append(objs, *o)
		}
	}
	if err := s.fill(ctx, objs); err != nil {
		return nil, err
	}
	for i := range out {
		if hit[i] != 0 {
			out[i].Found, out[i].Object = true, &objs[at[hit[i]]]
		}
	}
	return out, nil
}

// loadByTitles finds vulnerabilities by title (their name): for each
// title, the one first stored of those that bear it.
func (s *Store) loadByTitles(ctx context.Context, titles []string) (map[string]*intel.Object, error) {
	out := map[string]*intel.Object{}
	err := chunks(titles, s.batchLen, func(c []string) error {
		cond, args := s.in(1, stringArgs(c))
		return s.eachObject(ctx, nil, `SELECT `+objectCols+` FROM objects o WHERE o.type = 'vulnerability' AND o.name `+cond+
			` ORDER BY o.id`, args, func(o *intel.Object) {
			if out[o.Name] == nil {
				out[o.Name] = o
			}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: look up vulnerability titles: %w", err)
	}
	return out, nil
}

func (s *Store) loadByHashes(ctx context.Context, hashes []string) (map[string]*intel.Object, error) {
	out := map[string]*intel.Object{}
	nowUS := s.now().UnixMicro()
	err := chunks(hashes, s.batchLen, func(c []string) error {
		args := make([]any, len(c))
		for i, h := range c {
			args[i] = h
		}
		cond, args := s.in(1, args)
		rows, err := s.txQuery(ctx, nil, `SELECT h.hash, `+objectCols+` FROM object_hashes h JOIN objects o ON o.id = h.object_id
			WHERE h.hash `+cond, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h string
			o, err := s.scanObject(prefixed{rows, &h}, nowUS)
			if err != nil {
				return err
			}
			out[h] = o
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: look up hashes: %w", err)
	}
	return out, nil
}
