package parquetio

import (
	"io"

	"github.com/parquet-go/parquet-go"
)

// cursorBatch is the number of values decoded at once from a page.
const cursorBatch = 512

// cursor iterates over the values of one column chunk, page by page, holding
// at most one decoded page in memory. Values referencing page memory (byte
// arrays) are only valid until the next call to next or peek that moves to a
// new page; callers copy what they keep.
type cursor struct {
	name  string
	check *pageChecker
	pages parquet.Pages
	page  parquet.Page
	vals  parquet.ValueReader
	buf   []parquet.Value
	i, n  int
	err   error // sticky; io.EOF at the end of the chunk
}

// newCursor returns a cursor over chunk; check, if not nil, validates page
// headers before parquet-go reads them.
func newCursor(chunk parquet.ColumnChunk, name string, check *pageChecker) *cursor {
	return &cursor{name: name, check: check, pages: chunk.Pages(), buf: make([]parquet.Value, cursorBatch)}
}

// fill makes at least one value available, or sets c.err.
func (c *cursor) fill() bool {
	for c.i >= c.n {
		if c.err != nil {
			return false
		}
		if c.vals == nil {
			if c.check != nil {
				if err := c.check.next(); err != nil {
					c.err = err
					return false
				}
			}
			p, err := c.pages.ReadPage()
			if err != nil {
				c.err = err
				return false
			}
			c.page, c.vals = p, p.Values()
		}
		n, err := c.vals.ReadValues(c.buf)
		c.i, c.n = 0, n
		if err != nil {
			if err != io.EOF {
				c.err = err
				c.n = 0
				return false
			}
			if n == 0 {
				c.releasePage()
			}
		}
		if n == 0 && err == nil {
			// A reader making no progress without an error would spin.
			c.err = io.ErrNoProgress
			return false
		}
	}
	return true
}

// releasePage drops the current page; the next fill reads a new one.
func (c *cursor) releasePage() {
	if c.page != nil {
		parquet.Release(c.page)
	}
	c.page, c.vals = nil, nil
}

// next returns the next value; ok is false at the end of the chunk or on
// error (see c.err).
func (c *cursor) next() (parquet.Value, bool) {
	if !c.fill() {
		return parquet.Value{}, false
	}
	v := c.buf[c.i]
	c.i++
	return v, true
}

// peek returns the next value without consuming it.
func (c *cursor) peek() (parquet.Value, bool) {
	if !c.fill() {
		return parquet.Value{}, false
	}
	return c.buf[c.i], true
}

// atEnd reports whether the chunk is exhausted without error. If it returns
// false with c.err nil, values remain.
func (c *cursor) atEnd() bool {
	if c.fill() {
		return false
	}
	if c.err == io.EOF {
		c.err = nil
		return true
	}
	return false
}

func (c *cursor) close() {
	c.releasePage()
	if c.pages != nil {
		c.pages.Close()
	}
}

func closeCursors(cs []*cursor) {
	for _, c := range cs {
		if c != nil {
			c.close()
		}
	}
}
