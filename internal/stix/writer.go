package stix

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flintcti/flint/internal/intel"
)

// Writer writes one STIX 2.1 bundle as its objects arrive, page by page,
// holding no more than a page: an export of a million objects costs the
// memory of one page. Close writes the identities, the extension definition
// and the TLP marking definitions the objects referred to, and ends the
// bundle.
type Writer struct {
	w       *bufio.Writer
	n       int // objects written
	fp, ext bool
	flint   bool
	tlps    map[intel.TLP]bool
	err     error
}

// NewWriter starts a bundle on w.
func NewWriter(w io.Writer) *Writer {
	sw := &Writer{w: bufio.NewWriterSize(w, 64<<10), tlps: map[intel.TLP]bool{}}
	_, sw.err = sw.w.WriteString(`{"type":"bundle","id":"bundle--` + uuid.NewString() + `","objects":[`)
	return sw
}

// Page is one page of a streamed bundle.
type Page struct {
	// Objects are written now.
	Objects []intel.Object
	// Relationships are written now; each end is among Objects or Known.
	Relationships []intel.Relationship
	// Known are objects of the bundle written on other pages, which
	// Relationships and ReportRelationships may name.
	Known []intel.Object
	// ReportRelationships relate the reports among Objects to what their
	// object_refs list (the ends among Objects or Known).
	ReportRelationships []intel.Relationship
}

// Write writes a page's objects and relationships.
func (sw *Writer) Write(p Page) error {
	if sw.err != nil {
		return sw.err
	}
	e := newEncoder(len(p.Objects) + len(p.Known))
	for i := range p.Known {
		e.know(&p.Known[i])
	}
	for i := range p.Objects {
		if err := e.object(&p.Objects[i]); err != nil {
			return err
		}
	}
	e.relationships(p.Relationships, p.ReportRelationships)
	sw.fp, sw.ext, sw.flint = sw.fp || e.usesFP, sw.ext || e.usesExt, sw.flint || e.usesFlint
	for _, t := range e.tlps {
		sw.tlps[t] = true
	}
	return sw.objects(e.b.Objects)
}

func (sw *Writer) objects(objs []*Object) error {
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			sw.err = err
			return err
		}
		if sw.n > 0 {
			sw.w.WriteByte(',')
		}
		if _, sw.err = sw.w.Write(b); sw.err != nil {
			return sw.err
		}
		sw.n++
	}
	return nil
}

// Count is the number of objects written so far.
func (sw *Writer) Count() int { return sw.n }

// Close writes what the objects referred to and ends the bundle. It does
// not close the underlying writer.
func (sw *Writer) Close() error {
	if sw.err != nil {
		return sw.err
	}
	var tlps []intel.TLP
	for t := range sw.tlps {
		tlps = append(tlps, t)
	}
	if err := sw.objects(extras(sw.fp, sw.ext, sw.flint, tlps)); err != nil {
		return err
	}
	if _, err := sw.w.WriteString("]}\n"); err != nil {
		return err
	}
	return sw.w.Flush()
}

// Flush writes what is buffered to the underlying writer.
func (sw *Writer) Flush() error {
	if sw.err != nil {
		return sw.err
	}
	return sw.w.Flush()
}

// Objects encodes a page as Write does, without writing it and without the
// identities, extension definition and marking definitions its objects
// refer to (Extras lists them): what TAXII serves as one object's entry.
func Objects(p Page) ([]*Object, error) {
	e := newEncoder(len(p.Objects) + len(p.Known))
	for i := range p.Known {
		e.know(&p.Known[i])
	}
	for i := range p.Objects {
		if err := e.object(&p.Objects[i]); err != nil {
			return nil, err
		}
	}
	e.relationships(p.Relationships, p.ReportRelationships)
	return e.b.Objects, nil
}

// Extras are every object Flint's objects may refer to without holding it:
// the Flashpoint and Flint identities, Flint's extension definition and the
// five TLP 2.0 marking definitions.
func Extras() []*Object {
	return extras(true, true, true, []intel.TLP{intel.TLPClear, intel.TLPGreen, intel.TLPAmber, intel.TLPAmberStrict, intel.TLPRed})
}

// IDs are the ids of the STIX objects an object is written as on its own:
// its own (an indicator, a vulnerability, a report, a software observable,
// ...) and its indicator's observable, when it has one.
func IDs(o *intel.Object) []string {
	ids := []string{ObjectID(o)}
	if o.Type.IsIndicator() {
		if _, sco, err := IndicatorPattern(o); err == nil && sco != nil {
			ids = append(ids, sco.ID)
		}
	}
	return ids
}

// Key is the first 64 bits of a STIX id's UUID, as a number: the key of
// the store's index of ids (0 for what is not a STIX id).
func Key(id string) int64 {
	_, u, ok := strings.Cut(id, "--")
	if !ok {
		return 0
	}
	v, err := uuid.Parse(u)
	if err != nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v[:8]))
}

// VersionTime is an object's version as TAXII names it: its modified time,
// else its created time, else the zero time (the caller uses the time it
// was added).
func (o *Object) VersionTime() time.Time {
	if o.Modified != nil {
		return o.Modified.Time()
	}
	return o.Created.Time()
}
