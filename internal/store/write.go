package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/flintcti/flint/internal/intel"
)

// longValue is what the value column keeps: NULL when the key is the value.
func longValue(v string) any {
	if Vkey(v) == v {
		return nil
	}
	return v
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

// writeObjects writes the created and the updated objects of a page (by
// their fate) and sets the ids of the created ones.
func (s *Store) writeObjects(ctx context.Context, tx *sql.Tx, writes []*pending, nowUS int64) error {
	var fresh, changed []*pending
	for _, pd := range writes {
		if pd.fate == fateCreated {
			fresh = append(fresh, pd)
		} else {
			changed = append(changed, pd)
		}
	}
	if err := s.insertObjects(ctx, tx, fresh, nowUS); err != nil {
		return err
	}
	for _, pd := range fresh {
		if pd.cur.ID == 0 {
			return intel.Errorf(intel.ECONFLICT, "%s %s was stored by another writer while the page was written", pd.cur.Type, pd.cur.Value)
		}
	}
	if err := s.updateObjects(ctx, tx, changed, nowUS); err != nil {
		return err
	}
	return s.indexText(ctx, tx, writes)
}

// indexText keeps SQLite's full-text index of names and descriptions in
// step with the objects just written (PostgreSQL's is a generated column).
func (s *Store) indexText(ctx context.Context, tx *sql.Tx, writes []*pending) error {
	if s.dialect != SQLite {
		return nil
	}
	dels, adds := newRows("text", "bigint", "text", "text"), newRows("bigint", "text", "text")
	for _, pd := range writes {
		o, old := &pd.cur, pd.stored
		if old != nil && old.Name == o.Name && old.Description == o.Description {
			continue
		}
		if old != nil && (old.Name != "" || old.Description != "") {
			dels.add("delete", o.ID, old.Name, old.Description)
		}
		if o.Name != "" || o.Description != "" {
			adds.add(o.ID, o.Name, o.Description)
		}
	}
	if _, err := s.execRows(ctx, tx, `INSERT INTO objects_fts (objects_fts, rowid, name, description)`, dels, ``); err != nil {
		return fmt.Errorf("store: full-text index: %w", err)
	}
	if _, err := s.execRows(ctx, tx, `INSERT INTO objects_fts (rowid, name, description)`, adds, ``); err != nil {
		return fmt.Errorf("store: full-text index: %w", err)
	}
	return nil
}

// objectColumns are the columns an object row is written to, and their
// PostgreSQL types.
const objectColumns = `INSERT INTO objects (type, vkey, value, name, description, tlp, confidence, relevance, severity, score, tags,
	first_seen, last_seen, valid_from, valid_until, data, created_at, modified_at)`

var objectTypes = []string{"text", "text", "text", "text", "text", "text", "integer", "integer", "integer", "text", "text",
	"bigint", "bigint", "bigint", "bigint", "text", "bigint", "bigint"}

// objectRows returns the rows that write writes' objects.
func objectRows(writes []*pending, nowUS int64) (*rowSet, error) {
	r := newRows(objectTypes...)
	r.args = make([]any, 0, len(writes)*len(objectTypes))
	for _, pd := range writes {
		o := &pd.cur
		tags, err := marshal(o.Tags)
		if err != nil {
			return nil, err
		}
		if o.Tags == nil {
			tags = []byte("[]")
		}
		data := []byte("{}")
		if !emptyDetails(&o.Details) {
			if data, err = marshal(&o.Details); err != nil {
				return nil, fmt.Errorf("store: encode %s %s: %w", o.Type, o.Value, err)
			}
		}
		r.add(string(o.Type), Vkey(o.Value), longValue(o.Value), o.Name, o.Description, string(o.TLP), o.Confidence,
			nullInt(o.Relevance), nullInt(o.Severity), string(o.Score), string(tags),
			micros(o.FirstSeen), micros(o.LastSeen), micros(o.ValidFrom), micros(o.ValidUntil), string(data), nowUS, nowUS)
	}
	return r, nil
}

// updateObjects writes changed objects over what is stored; they keep
// their ids.
func (s *Store) updateObjects(ctx context.Context, tx *sql.Tx, writes []*pending, nowUS int64) error {
	for _, pd := range writes {
		pd.cur.ID = pd.stored.ID
	}
	rows, err := objectRows(writes, nowUS)
	if err != nil {
		return err
	}
	n, err := s.execRows(ctx, tx, objectColumns, rows, `ON CONFLICT (type, vkey) DO UPDATE SET name = excluded.name,
		description = excluded.description, tlp = excluded.tlp, confidence = excluded.confidence, relevance = excluded.relevance,
		severity = excluded.severity, score = excluded.score, tags = excluded.tags, first_seen = excluded.first_seen,
		last_seen = excluded.last_seen, valid_from = excluded.valid_from, valid_until = excluded.valid_until, data = excluded.data,
		modified_at = excluded.modified_at`)
	if err != nil {
		return fmt.Errorf("store: update objects: %w", err)
	}
	if n != int64(len(writes)) {
		return intel.Errorf(intel.ECONFLICT, "%d of %d changed objects written: another writer changed objects while the page was written", n, len(writes))
	}
	return nil
}

// insertObjects inserts new objects and sets their ids: on SQLite the ids
// it foresees (insertForeseen), on PostgreSQL those RETURNING gives. An
// object whose key another writer stored meanwhile is not written over and
// keeps id 0.
func (s *Store) insertObjects(ctx context.Context, tx *sql.Tx, writes []*pending, nowUS int64) error {
	if s.dialect == SQLite {
		return s.insertForeseen(ctx, tx, writes, false, nowUS)
	}
	rows, err := objectRows(writes, nowUS)
	if err != nil {
		return err
	}
	index := make(map[refKey]*pending, len(writes))
	for _, pd := range writes {
		index[keyOf(pd.cur.Type, pd.cur.Value)] = pd
	}
	err = s.eachBatch(rows, func(src string, args []any, _, _ int) error {
		rs, err := s.txQuery(ctx, tx, objectColumns+` `+src+` ON CONFLICT (type, vkey) DO NOTHING RETURNING id, type, vkey`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var id int64
			var k refKey
			if err := rs.Scan(&id, &k.typ, &k.vkey); err != nil {
				return err
			}
			if pd := index[k]; pd != nil {
				pd.cur.ID = id
			}
		}
		return rs.Err()
	})
	if err != nil {
		return fmt.Errorf("store: insert objects: %w", err)
	}
	return nil
}

// insertForeseen inserts new objects on SQLite. The transaction holds the
// write lock, so a new row gets the largest id so far plus one (the
// documented rowid algorithm): each batch reads that once and checks
// afterwards that every row went in and the last took the id foreseen,
// instead of collecting the ids with RETURNING. (The ids are not bound
// explicitly: an explicit INTEGER PRIMARY KEY may fail its type check, and
// a statement that may fail halfway keeps a statement journal of every
// index page it touches.) "OR IGNORE", unlike an upsert, cannot abort the
// statement halfway either, so SQLite keeps no statement journal of the
// random index pages it touches: a copy of each, and a quarter of the
// insert's cost. A key found stored is a conflict, unless guessed: the
// objects are a guess (insertGuessed), and those a stored key kept out
// are given id 0.
func (s *Store) insertForeseen(ctx context.Context, tx *sql.Tx, writes []*pending, guessed bool, nowUS int64) error {
	rows, err := objectRows(writes, nowUS)
	if err != nil {
		return err
	}
	return s.eachBatch(rows, func(src string, args []any, from, n int) error {
		c := writes[from : from+n]
		var first int64 // the id the batch's first new row takes
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(id), 0) + 1 FROM objects`).Scan(&first); err != nil {
			return fmt.Errorf("store: next object id: %w", err)
		}
		res, err := s.txExec(ctx, tx, `INSERT OR IGNORE`+strings.TrimPrefix(objectColumns, `INSERT`)+` `+src, args...)
		if err != nil {
			return fmt.Errorf("store: insert objects: %w", err)
		}
		written, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: insert objects: %w", err)
		}
		last, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("store: insert objects: %w", err)
		}
		if guessed && written < int64(n) {
			return s.guessedIDs(ctx, tx, c, first)
		}
		if written != int64(n) || last != first+written-1 {
			return intel.Errorf(intel.ECONFLICT, "%d of %d objects written (last id %d, foreseen %d): another writer changed objects while the page was written",
				written, n, last, first+int64(n)-1)
		}
		for i, pd := range c {
			pd.cur.ID = first + int64(i)
		}
		return nil
	})
}

// guessedIDs sets the ids of the objects of c that a guessed insert did
// insert, and zeroes the others' (their keys were stored already). The
// rows inserted took the ids from first on, one after another.
func (s *Store) guessedIDs(ctx context.Context, tx *sql.Tx, c []*pending, first int64) error {
	index := make(map[refKey]*pending, len(c))
	for _, pd := range c {
		pd.cur.ID = 0
		index[keyOf(pd.cur.Type, pd.cur.Value)] = pd
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, type, vkey FROM objects WHERE id >= $1`, first)
	if err != nil {
		return fmt.Errorf("store: objects inserted: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var k refKey
		if err := rows.Scan(&id, &k.typ, &k.vkey); err != nil {
			return fmt.Errorf("store: objects inserted: %w", err)
		}
		if pd := index[k]; pd != nil {
			pd.cur.ID = id
		}
	}
	return rows.Err()
}

func (s *Store) upsertProvenance(ctx context.Context, tx *sql.Tx, writes []*pending, channelID int64) error {
	rows := newRows("bigint", "bigint", "text", "text", "text", "bigint", "bigint", "text", "integer", "bigint", "bigint")
	for _, pd := range writes {
		var dg any = pd.digest
		if pd.views > 1 { // no one view to recognise
			dg = nil
		}
		for _, p := range pd.cur.Sources {
			if p.ChannelID == channelID {
				rows.add(pd.cur.ID, p.ChannelID, p.Instance, p.Channel, p.OriginalID, micros(p.FirstReported),
					micros(p.LastReported), string(p.TLP), p.Confidence, micros(p.ValidUntil), dg)
			}
		}
	}
	_, err := s.execRows(ctx, tx, `INSERT INTO provenance (object_id, channel_id, instance, channel, original_id, first_reported,
		last_reported, tlp, confidence, valid_until, digest)`, rows, `ON CONFLICT (object_id, channel_id) DO UPDATE SET
		instance = excluded.instance, channel = excluded.channel, original_id = excluded.original_id,
		first_reported = excluded.first_reported, last_reported = excluded.last_reported, tlp = excluded.tlp,
		confidence = excluded.confidence, valid_until = excluded.valid_until, digest = excluded.digest`)
	if err != nil {
		return fmt.Errorf("store: upsert provenance: %w", err)
	}
	return nil
}

// upsertSideTables keeps the searchable columns of vulnerabilities and
// software, and the hash index of every object that carries hashes.
func (s *Store) upsertSideTables(ctx context.Context, tx *sql.Tx, writes []*pending) error {
	vulns := newRows("bigint", "bigint", "double precision", "double precision", "double precision", "text", "double precision", "text", "bigint")
	soft := newRows("bigint", "text", "text", "text", "text")
	hashes := newRows("text", "bigint", "text")
	for _, pd := range writes {
		o := &pd.cur
		switch {
		case o.Type == intel.Vulnerability:
			v := o.Vulnerability
			if v == nil {
				v = &intel.VulnerabilityDetail{}
			}
			vulns.add(o.ID, nullFPID(v.FlashpointID), cvssScore(v.CVSSv2), cvssScore(v.CVSSv3), cvssScore(v.CVSSv4),
				strings.ToLower(v.Severity), nullFloat(v.EPSS), strings.ToLower(v.ExploitMaturity), micros(v.PublishedAt))
		case o.Type == intel.Software:
			vendor, product, _ := strings.Cut(o.Value, ":")
			if sw := o.Software; sw != nil {
				vendor, product = sw.Vendor, sw.Product
			}
			soft.add(o.ID, vendor, product, strings.ToLower(vendor), strings.ToLower(product))
		}
		// Every hash an object carries (a file's other hashes, those of an
		// extracted config, ...) finds it in a lookup; a file's own value
		// is found through objects.
		if len(o.Hashes) == 0 {
			continue
		}
		seen := make(map[string]bool, len(o.Hashes)+1)
		if o.Type == intel.File {
			seen[o.Value] = true
		}
		for algo, h := range o.Hashes {
			if h = strings.ToLower(h); h != "" && !seen[h] {
				seen[h] = true
				hashes.add(h, o.ID, string(algo))
			}
		}
	}
	for _, st := range []struct {
		table string
		rows  *rowSet
		head  string
		tail  string
	}{
		{"vulnerabilities", vulns, `INSERT INTO vulnerabilities (object_id, flashpoint_id, cvss_v2, cvss_v3, cvss_v4, severity, epss,
			exploit_maturity, published_at)`, `ON CONFLICT (object_id) DO UPDATE SET flashpoint_id = excluded.flashpoint_id,
			cvss_v2 = excluded.cvss_v2, cvss_v3 = excluded.cvss_v3, cvss_v4 = excluded.cvss_v4, severity = excluded.severity,
			epss = excluded.epss, exploit_maturity = excluded.exploit_maturity, published_at = excluded.published_at`},
		{"software", soft, `INSERT INTO software (object_id, vendor, product, vendor_lc, product_lc)`,
			`ON CONFLICT (object_id) DO UPDATE SET vendor = excluded.vendor, product = excluded.product,
			vendor_lc = excluded.vendor_lc, product_lc = excluded.product_lc`},
		{"object_hashes", hashes, `INSERT INTO object_hashes (hash, object_id, algo)`, `ON CONFLICT (hash, object_id) DO NOTHING`},
	} {
		if _, err := s.execRows(ctx, tx, st.head, st.rows, st.tail); err != nil {
			return fmt.Errorf("store: upsert %s: %w", st.table, err)
		}
	}
	return nil
}

func cvssScore(c *intel.CVSS) any {
	if c == nil {
		return nil
	}
	return c.Score
}

func nullFloat(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullFPID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// lockKeys serialises writers of the same objects. Pages are merged in Go
// from what was read, so two channels writing the same object at once on
// PostgreSQL would each merge into the state before the other's write and
// one union would be lost. Transaction-scoped advisory locks on the objects'
// keys, taken in sorted order so that writers cannot deadlock, make the
// second wait for the first. SQLite needs none: its writers are serialised.
func (s *Store) lockKeys(ctx context.Context, tx *sql.Tx, keys []refKey) error {
	if s.dialect != Postgres || len(keys) == 0 {
		return nil
	}
	ids := make([]int64, len(keys))
	for i, k := range keys {
		h := fnv.New64a()
		h.Write([]byte(k.typ))
		h.Write([]byte{0})
		h.Write([]byte(k.vkey))
		ids[i] = int64(h.Sum64())
	}
	slices.Sort(ids)
	if _, err := s.txExec(ctx, tx, `SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY k) AS keys`,
		column(int64Args(slices.Compact(ids)), "bigint")); err != nil {
		return fmt.Errorf("store: lock objects: %w", err)
	}
	return nil
}

type probeRow struct {
	id     int64
	digest sql.NullInt64
	member bool
}

// probe finds which of keys are stored, the digest of the channel's last
// view of each, and whether each is in the collection.
func (s *Store) probe(ctx context.Context, tx *sql.Tx, keys []refKey, channelID, collID int64) (map[refKey]probeRow, error) {
	out := make(map[refKey]probeRow, len(keys))
	byType := map[intel.Type][]string{}
	for _, k := range keys {
		byType[k.typ] = append(byType[k.typ], k.vkey)
	}
	for typ, vkeys := range byType {
		err := chunks(vkeys, s.batchLen, func(c []string) error {
			cond, args := s.in(4, stringArgs(c))
			// Correlated subqueries, not joins: each is one index probe per
			// object, where a planner would hash-join whole tables.
			rows, err := s.txQuery(ctx, tx, `SELECT o.id, o.vkey,
				(SELECT p.digest FROM provenance p WHERE p.object_id = o.id AND p.channel_id = `+s.param(1)+`),
				(SELECT m.object_id FROM collection_objects m WHERE m.collection_id = `+s.param(2)+` AND m.object_id = o.id)
				FROM objects o WHERE o.type = `+s.param(3)+` AND o.vkey `+cond, append([]any{channelID, collID, string(typ)}, args...)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r probeRow
				var vkey string
				var member sql.NullInt64
				if err := rows.Scan(&r.id, &vkey, &r.digest, &member); err != nil {
					return err
				}
				r.member = member.Valid
				out[refKey{typ, vkey}] = r
			}
			return rows.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("store: probe %s objects: %w", typ, err)
		}
	}
	return out, nil
}
