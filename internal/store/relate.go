package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/flintcti/flint/internal/intel"
)

// linkByFlashpointID relates the vulnerabilities that share a Flashpoint id:
// a record first stored under its title and later under the CVE ID it gained
// (docs/domain.md §5) gets "title related-to CVE", so the link to the Flashpoint
// record is never lost, whichever poll saw which.
func (s *Store) linkByFlashpointID(ctx context.Context, tx *sql.Tx, writes []*pending, nowUS int64) (int, error) {
	var fpids []any
	seen := map[int64]bool{}
	for _, pd := range writes {
		if v := pd.cur.Vulnerability; pd.cur.Type == intel.Vulnerability && v != nil && v.FlashpointID != 0 && !seen[v.FlashpointID] {
			seen[v.FlashpointID] = true
			fpids = append(fpids, v.FlashpointID)
		}
	}
	if len(fpids) == 0 {
		return 0, nil
	}
	type vuln struct {
		id    int64
		isCVE bool
	}
	groups := map[int64][]vuln{}
	err := chunks(fpids, s.batchLen, func(c []any) error {
		cond, args := s.in(1, c)
		rows, err := s.txQuery(ctx, tx, `SELECT v.flashpoint_id, o.id, o.vkey FROM vulnerabilities v JOIN objects o ON o.id = v.object_id
			WHERE v.flashpoint_id `+cond, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var fp, id int64
			var vkey string
			if err := rows.Scan(&fp, &id, &vkey); err != nil {
				return err
			}
			groups[fp] = append(groups[fp], vuln{id, strings.HasPrefix(vkey, "CVE-")})
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("store: vulnerabilities by Flashpoint id: %w", err)
	}
	rows := newRows(relationshipTypes...)
	for _, g := range groups {
		for _, title := range g {
			for _, cve := range g {
				if !title.isCVE && cve.isCVE {
					rows.add(title.id, string(intel.RelRelatedTo), cve.id, nowUS)
				}
			}
		}
	}
	n, err := s.execRows(ctx, tx, relationshipColumns, rows, `ON CONFLICT (source_id, type, target_id) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("store: relate vulnerabilities by Flashpoint id: %w", err)
	}
	return int(n), nil
}

// resolvePending makes the pending relationships whose missing end is one
// of the objects just created, and forgets them.
func (s *Store) resolvePending(ctx context.Context, tx *sql.Tx, created []refKey, nowUS int64) (int, error) {
	byType := map[intel.Type][]string{}
	for _, k := range created {
		byType[k.typ] = append(byType[k.typ], k.vkey)
	}
	added := 0
	for _, typ := range slices.Sorted(maps.Keys(byType)) {
		err := chunks(byType[typ], s.batchLen, func(c []string) error {
			cond, args := s.in(3, stringArgs(c))
			res, err := s.txExec(ctx, tx, `INSERT INTO relationships (source_id, type, target_id, created_at)
				SELECT p.source_id, p.type, o.id, `+s.param(1)+` FROM pending_relationships p
				JOIN objects o ON o.type = p.target_type AND o.vkey = p.target_vkey
				WHERE p.target_type = `+s.param(2)+` AND p.target_vkey `+cond+`
				ON CONFLICT (source_id, type, target_id) DO NOTHING`, append([]any{nowUS, string(typ)}, args...)...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			added += int(n)
			cond, args = s.in(2, stringArgs(c))
			_, err = s.txExec(ctx, tx, `DELETE FROM pending_relationships WHERE target_type = `+s.param(1)+` AND target_vkey `+cond,
				append([]any{string(typ)}, args...)...)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("store: make pending relationships to %s objects: %w", typ, err)
		}
	}
	return added, nil
}

// relationshipColumns are the columns a relationship row is written to,
// and relationshipTypes their PostgreSQL types.
const relationshipColumns = `INSERT INTO relationships (source_id, type, target_id, created_at)`

var relationshipTypes = []string{"bigint", "text", "bigint", "bigint"}

// addRelationships resolves both ends of each relationship (in the page or
// already stored) and inserts the new ones. It returns how many were new.
func (s *Store) addRelationships(ctx context.Context, tx *sql.Tx, rels []intel.Relationship, ids map[refKey]int64, nowUS int64) (int, error) {
	if len(rels) == 0 {
		return 0, nil
	}
	var missing []refKey
	for _, r := range rels {
		for _, ref := range []intel.Ref{r.Source, r.Target} {
			if k := keyOf(ref.Type, ref.Value); ids[k] == 0 {
				missing = append(missing, k)
				ids[k] = -1
			}
		}
	}
	if len(missing) > 0 {
		if err := s.loadIDs(ctx, tx, missing, ids); err != nil {
			return 0, err
		}
	}
	type edge struct {
		src, dst int64
		typ      string
	}
	seen := map[edge]bool{}
	rows, pending := newRows(relationshipTypes...), newRows("text", "text", "bigint", "text", "bigint")
	for _, r := range rels {
		src, dst := ids[keyOf(r.Source.Type, r.Source.Value)], ids[keyOf(r.Target.Type, r.Target.Value)]
		if (src <= 0 || dst <= 0) && r.IfStored {
			if src > 0 { // made when the target is stored (resolvePending)
				k := keyOf(r.Target.Type, r.Target.Value)
				pending.add(string(k.typ), k.vkey, src, string(r.Type), nowUS)
			}
			continue
		}
		if src <= 0 || dst <= 0 {
			ref := r.Source
			if src > 0 {
				ref = r.Target
			}
			return 0, intel.Errorf(intel.EINVALID, "relationship %s %s %s: %s is neither in the page nor stored",
				r.Source, r.Type, r.Target, ref)
		}
		e := edge{src, dst, string(r.Type)}
		if !seen[e] {
			seen[e] = true
			rows.add(src, e.typ, dst, nowUS)
		}
	}
	if _, err := s.execRows(ctx, tx, `INSERT INTO pending_relationships (target_type, target_vkey, source_id, type, created_at)`,
		pending, `ON CONFLICT (target_type, target_vkey, source_id, type) DO NOTHING`); err != nil {
		return 0, fmt.Errorf("store: keep pending relationships: %w", err)
	}
	added, err := s.execRows(ctx, tx, relationshipColumns, rows, `ON CONFLICT (source_id, type, target_id) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("store: add relationships: %w", err)
	}
	return int(added), nil
}

// Related returns the objects related to id, both ways, each with the
// relationship named as seen from id ("has" one way, "affected-by" the
// other), at most limit of them (default 1000).
func (s *Store) Related(ctx context.Context, id int64, limit int) ([]intel.Related, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.type, 0, `+objectCols+` FROM relationships r JOIN objects o ON o.id = r.target_id WHERE r.source_id = $1
		UNION ALL
		SELECT r.type, 1, `+objectCols+` FROM relationships r JOIN objects o ON o.id = r.source_id WHERE r.target_id = $1
		LIMIT `+strconv.Itoa(limit), id)
	if err != nil {
		return nil, fmt.Errorf("store: related objects of %d: %w", id, err)
	}
	defer rows.Close()
	nowUS := s.now().UnixMicro()
	var out []intel.Related
	for rows.Next() {
		var typ string
		var inverse int
		o, err := s.scanObject(prefixed{prefixed{rows, &typ}, &inverse}, nowUS)
		if err != nil {
			return nil, fmt.Errorf("store: related objects of %d: %w", id, err)
		}
		name := typ
		if inverse == 1 {
			name = intel.RelationshipType(typ).Inverse()
		}
		out = append(out, intel.Related{Relationship: name, Object: *o})
	}
	return out, rows.Err()
}

// Link is a stored relationship by its ends' ids.
type Link struct {
	Source, Target int64
	Type           intel.RelationshipType
}

// Links returns the relationships with an end among ids, each once.
func (s *Store) Links(ctx context.Context, ids []int64) ([]Link, error) {
	seen := map[Link]bool{}
	var out []Link
	err := chunks(ids, s.batchLen, func(c []int64) error {
		for _, col := range []string{"source_id", "target_id"} {
			cond, args := s.in(1, int64Args(c))
			rows, err := s.txQuery(ctx, nil, `SELECT source_id, type, target_id FROM relationships WHERE `+col+` `+cond, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var l Link
				if err := rows.Scan(&l.Source, &l.Type, &l.Target); err != nil {
					rows.Close()
					return err
				}
				if !seen[l] {
					seen[l] = true
					out = append(out, l)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: links of objects: %w", err)
	}
	return out, nil
}

// Relationships returns the relationships whose two ends are both among ids,
// with their ends named by type and value (as a STIX export wants them).
func (s *Store) Relationships(ctx context.Context, ids []int64) ([]intel.Relationship, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	want := make(map[int64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []intel.Relationship
	err := chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		rows, err := s.txQuery(ctx, nil, `SELECT r.id, r.target_id, r.type, a.type, COALESCE(a.value, a.vkey), b.type, COALESCE(b.value, b.vkey)
			FROM relationships r JOIN objects a ON a.id = r.source_id JOIN objects b ON b.id = r.target_id
			WHERE r.source_id `+cond+` ORDER BY r.id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r intel.Relationship
			var target int64
			if err := rows.Scan(&r.ID, &target, &r.Type, &r.Source.Type, &r.Source.Value, &r.Target.Type, &r.Target.Value); err != nil {
				return err
			}
			if want[target] {
				out = append(out, r)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: relationships: %w", err)
	}
	return out, nil
}
