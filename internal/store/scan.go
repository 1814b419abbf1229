package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

const objectCols = `o.id, o.type, COALESCE(o.value, o.vkey), o.name, o.description, o.tlp, o.confidence, o.relevance, o.severity, o.score,
	o.tags, o.first_seen, o.last_seen, o.valid_from, o.valid_until, o.data, o.created_at, o.modified_at`

// scanObject reads one row of objectCols.
func (s *Store) scanObject(r scanner, nowUS int64) (*intel.Object, error) {
	var (
		o                        intel.Object
		rel, sev                 sql.NullInt64
		first, last, from, until sql.NullInt64
		tags, data               string
		created, modified        int64
	)
	if err := r.Scan(&o.ID, &o.Type, &o.Value, &o.Name, &o.Description, &o.TLP, &o.Confidence, &rel, &sev, &o.Score,
		&tags, &first, &last, &from, &until, &data, &created, &modified); err != nil {
		return nil, err
	}
	if rel.Valid {
		v := int(rel.Int64)
		o.Relevance = &v
	}
	if sev.Valid {
		v := int(sev.Int64)
		o.Severity = &v
	}
	if tags != "[]" && tags != "" {
		if err := json.Unmarshal([]byte(tags), &o.Tags); err != nil {
			return nil, fmt.Errorf("store: object %d: bad tags: %w", o.ID, err)
		}
	}
	if data != "{}" && data != "" {
		if err := json.Unmarshal([]byte(data), &o.Details); err != nil {
			return nil, fmt.Errorf("store: object %d: bad data: %w", o.ID, err)
		}
	}
	o.FirstSeen, o.LastSeen, o.ValidFrom, o.ValidUntil = fromMicros(first), fromMicros(last), fromMicros(from), fromMicros(until)
	o.Created, o.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
	o.Deprecated = until.Valid && until.Int64 < nowUS
	return &o, nil
}

// loadByKeys loads the stored objects among keys, with their sources when withSources.
func (s *Store) loadByKeys(ctx context.Context, tx *sql.Tx, keys []refKey, withSources bool) (map[refKey]*intel.Object, error) {
	out := make(map[refKey]*intel.Object, len(keys))
	byType := map[intel.Type][]string{}
	for _, k := range keys {
		byType[k.typ] = append(byType[k.typ], k.vkey)
	}
	byID := map[int64]*intel.Object{}
	for typ, vkeys := range byType {
		err := chunks(vkeys, s.batchLen, func(c []string) error {
			cond, args := s.in(2, stringArgs(c))
			return s.eachObject(ctx, tx, `SELECT `+objectCols+` FROM objects o WHERE o.type = `+s.param(1)+` AND o.vkey `+cond,
				append([]any{string(typ)}, args...), func(o *intel.Object) {
					out[keyOf(o.Type, o.Value)] = o
					byID[o.ID] = o
				})
		})
		if err != nil {
			return nil, fmt.Errorf("store: load %s objects: %w", typ, err)
		}
	}
	if withSources && len(byID) > 0 {
		if err := s.loadSources(ctx, tx, byID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadIDs sets ids[k] to the id of each stored object of keys (a
// relationship's ends need no more).
func (s *Store) loadIDs(ctx context.Context, tx *sql.Tx, keys []refKey, ids map[refKey]int64) error {
	byType := map[intel.Type][]string{}
	for _, k := range keys {
		byType[k.typ] = append(byType[k.typ], k.vkey)
	}
	for typ, vkeys := range byType {
		err := chunks(vkeys, s.batchLen, func(c []string) error {
			cond, args := s.in(2, stringArgs(c))
			rows, err := s.txQuery(ctx, tx, `SELECT o.id, o.vkey FROM objects o WHERE o.type = `+s.param(1)+` AND o.vkey `+cond,
				append([]any{string(typ)}, args...)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id int64
				var vkey string
				if err := rows.Scan(&id, &vkey); err != nil {
					return err
				}
				ids[refKey{typ, vkey}] = id
			}
			return rows.Err()
		})
		if err != nil {
			return fmt.Errorf("store: find %s objects: %w", typ, err)
		}
	}
	return nil
}

// loadSources fills the Sources of the given objects.
func (s *Store) loadSources(ctx context.Context, tx *sql.Tx, byID map[int64]*intel.Object) error {
	ids := make([]int64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	return chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		rows, err := s.txQuery(ctx, tx, `SELECT object_id, channel_id, instance, channel, original_id, first_reported, last_reported,
			tlp, confidence, valid_until FROM provenance WHERE object_id `+cond+` ORDER BY object_id, channel_id`, args...)
		if err != nil {
			return fmt.Errorf("store: load provenance: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p intel.Provenance
			var id int64
			var first, last, until sql.NullInt64
			if err := rows.Scan(&id, &p.ChannelID, &p.Instance, &p.Channel, &p.OriginalID, &first, &last, &p.TLP, &p.Confidence, &until); err != nil {
				return fmt.Errorf("store: load provenance: %w", err)
			}
			p.FirstReported, p.LastReported, p.ValidUntil = fromMicros(first), fromMicros(last), fromMicros(until)
			byID[id].Sources = append(byID[id].Sources, p)
		}
		return rows.Err()
	})
}

// Get returns one object by id, with its sources and collections.
func (s *Store) Get(ctx context.Context, id int64) (*intel.Object, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT `+objectCols+` FROM objects o WHERE o.id = $1`, id)
	o, err := s.scanObject(row, s.now().UnixMicro())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, intel.Errorf(intel.ENOTFOUND, "object %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get object %d: %w", id, err)
	}
	objs := []intel.Object{*o}
	if err := s.fill(ctx, objs); err != nil {
		return nil, err
	}
	return &objs[0], nil
}

// GetByRef returns the object with the given type and normalised value.
func (s *Store) GetByRef(ctx context.Context, ref intel.Ref) (*intel.Object, error) {
	found, err := s.loadByKeys(ctx, nil, []refKey{keyOf(ref.Type, ref.Value)}, false)
	if err != nil {
		return nil, err
	}
	o := found[keyOf(ref.Type, ref.Value)]
	if o == nil {
		return nil, intel.Errorf(intel.ENOTFOUND, "%s %q not found", ref.Type, ref.Value)
	}
	return s.Get(ctx, o.ID)
}

// fill loads the sources and collection names of objs.
func (s *Store) fill(ctx context.Context, objs []intel.Object) error {
	if len(objs) == 0 {
		return nil
	}
	byID := make(map[int64]*intel.Object, len(objs))
	ids := make([]int64, 0, len(objs))
	for i := range objs {
		objs[i].Sources, objs[i].Collections = nil, nil
		byID[objs[i].ID] = &objs[i]
		ids = append(ids, objs[i].ID)
	}
	if err := s.loadSources(ctx, nil, byID); err != nil {
		return err
	}
	if err := s.recordSources(ctx, objs); err != nil {
		return err
	}
	return s.eachMembership(ctx, nil, ids, func(object, _ int64, name string) {
		byID[object].Collections = append(byID[object].Collections, name)
	})
}

// eachMembership calls f for each collection holding one of ids (in tx, or
// on the read pool when tx is nil), by object, then collection name.
func (s *Store) eachMembership(ctx context.Context, tx *sql.Tx, ids []int64, f func(object, coll int64, name string)) error {
	return chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		// CROSS JOIN: SQLite walks the few collections and probes each one's
		// primary key for the objects, whatever its statistics say; left to
		// choose without them (after a large load, before ANALYZE), it
		// scanned every membership instead (20 ms a page at 60,000).
		rows, err := s.txQuery(ctx, tx, `SELECT m.object_id, c.id, c.name FROM collections c CROSS JOIN collection_objects m
			WHERE m.collection_id = c.id AND m.object_id `+cond+` ORDER BY m.object_id, c.name`, args...)
		if err != nil {
			return fmt.Errorf("store: collections of objects: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var object, coll int64
			var name string
			if err := rows.Scan(&object, &coll, &name); err != nil {
				return fmt.Errorf("store: collections of objects: %w", err)
			}
			f(object, coll, name)
		}
		return rows.Err()
	})
}

// recordSources shows each Flashpoint record that reported a vulnerability
// as a source of its own: a channel that sent several records for one CVE
// id has one entry for each, under the channel's terms, with the record's
// Flashpoint id and when it was first and last changed.
func (s *Store) recordSources(ctx context.Context, objs []intel.Object) error {
	byID := map[int64]*intel.Object{}
	var ids []int64
	for i := range objs {
		if objs[i].Type == intel.Vulnerability {
			byID[objs[i].ID] = &objs[i]
			ids = append(ids, objs[i].ID)
		}
	}
	type record struct {
		channel, fpid int64
		first, last   int64
	}
	recs := map[int64][]record{}
	err := chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		// No ORDER BY (sorted below): ordering by the primary key tempts a
		// planner without statistics (after a large load, before ANALYZE)
		// to walk the whole table in key order instead of probing the
		// object_id index: 22 ms instead of 1 for a page of 100 at 60,000
		// records.
		rows, err := s.txQuery(ctx, nil, `SELECT object_id, channel_id, flashpoint_id, first_reported, last_reported
			FROM vulnerability_records WHERE object_id `+cond, args...)
		if err != nil {
			return fmt.Errorf("store: load vulnerability records: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var r record
			if err := rows.Scan(&id, &r.channel, &r.fpid, &r.first, &r.last); err != nil {
				return err
			}
			recs[id] = append(recs[id], r)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for id, rs := range recs {
		slices.SortFunc(rs, func(a, b record) int { return cmp.Or(cmp.Compare(a.channel, b.channel), cmp.Compare(a.fpid, b.fpid)) })
		o := byID[id]
		var out []intel.Provenance
		for _, p := range o.Sources {
			n := 0
			for _, r := range rs {
				if r.channel != p.ChannelID {
					continue
				}
				q := p
				q.OriginalID = strconv.FormatInt(r.fpid, 10)
				q.FirstReported, q.LastReported = time.UnixMicro(r.first).UTC(), time.UnixMicro(r.last).UTC()
				out = append(out, q)
				n++
			}
			if n == 0 {
				out = append(out, p)
			}
		}
		o.Sources = out
	}
	return nil
}

// eachObject runs a query of objectCols and calls f with each object.
func (s *Store) eachObject(ctx context.Context, tx *sql.Tx, query string, args []any, f func(*intel.Object)) error {
	rows, err := s.txQuery(ctx, tx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	nowUS := s.now().UnixMicro()
	for rows.Next() {
		o, err := s.scanObject(rows, nowUS)
		if err != nil {
			return err
		}
		f(o)
	}
	return rows.Err()
}

// prefixed scans extra leading columns before an object's columns.
type prefixed struct {
	r     scanner
	first any
}

func (p prefixed) Scan(dest ...any) error { return p.r.Scan(append([]any{p.first}, dest...)...) }
