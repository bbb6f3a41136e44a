package parquetio

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// node pairs a column of the opened file with its raw schema element, which
// carries the physical type and annotations exactly as written in the file.
type node struct {
	col      *parquet.Column
	elem     *format.SchemaElement
	children []*node
}

// buildTree maps the column tree built by parquet-go onto the file's schema
// elements. parquet-go creates columns from the schema elements in depth-first
// order, so a pre-order walk with a counter pairs them up.
func buildTree(f *parquet.File) (*node, error) {
	schema := f.Metadata().Schema
	k := 0
	var walk func(c *parquet.Column) (*node, error)
	walk = func(c *parquet.Column) (*node, error) {
		if k >= len(schema) {
			return nil, fmt.Errorf("schema has fewer elements than columns")
		}
		n := &node{col: c, elem: &schema[k]}
		k++
		if n.elem.Name != c.Name() {
			return nil, fmt.Errorf("schema element %q does not match column %q", n.elem.Name, c.Name())
		}
		for _, child := range c.Columns() {
			cn, err := walk(child)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, cn)
		}
		return n, nil
	}
	return walk(f.Root())
}

func (n *node) leaf() bool            { return n.elem.Type.Valid }
func (n *node) name() string          { return n.elem.Name }
func (n *node) physical() format.Type { return n.elem.Type.V }

func (n *node) repetition() format.FieldRepetitionType {
	if !n.elem.RepetitionType.Valid {
		return format.Required
	}
	return n.elem.RepetitionType.V
}

func (n *node) repeated() bool { return n.repetition() == format.Repeated }
func (n *node) optional() bool { return n.repetition() == format.Optional }

// isList reports whether n is a group annotated as a LIST.
func (n *node) isList() bool {
	if n.leaf() {
		return false
	}
	if _, ok := n.elem.LogicalType.Value.(*format.ListType); ok {
		return true
	}
	return n.elem.LogicalType.Value == nil && n.elem.ConvertedType.Valid && n.elem.ConvertedType.V == deprecated.List
}

// annotation returns the logical (or legacy converted) type annotation of n,
// or "" if it has none.
func (n *node) annotation() string {
	if lt := n.elem.LogicalType.Value; lt != nil {
		return lt.String()
	}
	if n.elem.ConvertedType.Valid {
		return convertedTypeName(n.elem.ConvertedType.V)
	}
	return ""
}

// describe renders the type of n for error messages, e.g. "INT64",
// "BYTE_ARRAY (JSON)", "repeated INT32", "LIST<BYTE_ARRAY (STRING)>" or
// "group (struct)".
func (n *node) describe() string {
	var s string
	switch {
	case n.leaf():
		s = n.physical().String()
		if a := n.annotation(); a != "" && !n.defaultIntAnnotation() {
			s += " (" + a + ")"
		}
	case n.isList():
		s = "LIST"
		if e := listElement(n); e != nil {
			s += "<" + e.describe() + ">"
		}
	default:
		s = "group"
		if a := n.annotation(); a != "" {
			s += " (" + a + ")"
		} else {
			s += " (struct)"
		}
	}
	if n.repeated() {
		s = "repeated " + s
	}
	return s
}

// defaultIntAnnotation reports whether n carries an integer annotation that
// says nothing beyond its physical type (signed, full width), which describe
// leaves out for brevity.
func (n *node) defaultIntAnnotation() bool {
	if it, ok := n.elem.LogicalType.Value.(*format.IntType); ok && it.IsSigned {
		return (n.physical() == format.Int32 && it.BitWidth == 32) || (n.physical() == format.Int64 && it.BitWidth == 64)
	}
	if n.elem.LogicalType.Value == nil && n.elem.ConvertedType.Valid {
		ct := n.elem.ConvertedType.V
		return (n.physical() == format.Int32 && ct == deprecated.Int32) || (n.physical() == format.Int64 && ct == deprecated.Int64)
	}
	return false
}

// listElement returns the element node of a LIST-annotated group in either
// the standard 3-level or the legacy 2-level layout, or nil if the group does
// not have one of those shapes.
func listElement(n *node) *node {
	if len(n.children) != 1 || !n.children[0].repeated() {
		return nil
	}
	rep := n.children[0]
	if rep.leaf() {
		return rep
	}
	if len(rep.children) == 1 && !rep.children[0].repeated() {
		return rep.children[0]
	}
	return nil
}

func convertedTypeName(ct deprecated.ConvertedType) string {
	names := map[deprecated.ConvertedType]string{
		deprecated.UTF8: "UTF8", deprecated.Map: "MAP", deprecated.MapKeyValue: "MAP_KEY_VALUE",
		deprecated.List: "LIST", deprecated.Enum: "ENUM", deprecated.Decimal: "DECIMAL",
		deprecated.Date: "DATE", deprecated.TimeMillis: "TIME_MILLIS", deprecated.TimeMicros: "TIME_MICROS",
		deprecated.TimestampMillis: "TIMESTAMP_MILLIS", deprecated.TimestampMicros: "TIMESTAMP_MICROS",
		deprecated.Uint8: "UINT_8", deprecated.Uint16: "UINT_16", deprecated.Uint32: "UINT_32",
		deprecated.Uint64: "UINT_64", deprecated.Int8: "INT_8", deprecated.Int16: "INT_16",
		deprecated.Int32: "INT_32", deprecated.Int64: "INT_64", deprecated.Json: "JSON",
		deprecated.Bson: "BSON", deprecated.Interval: "INTERVAL",
	}
	if s, ok := names[ct]; ok {
		return s
	}
	return "CONVERTED_TYPE(" + strconv.Itoa(int(ct)) + ")"
}

// isStringLeaf reports whether a leaf holds strings: BYTE_ARRAY with the
// STRING/UTF8 annotation, or plain (unannotated) BYTE_ARRAY.
func isStringLeaf(n *node) bool {
	if n.physical() != format.ByteArray {
		return false
	}
	if lt := n.elem.LogicalType.Value; lt != nil {
		_, ok := lt.(*format.StringType)
		return ok
	}
	return !n.elem.ConvertedType.Valid || n.elem.ConvertedType.V == deprecated.UTF8
}

// intKind reports whether a leaf holds integers (INT32/INT64 with no
// annotation or an integer annotation consistent with the physical type) and
// whether they are signed.
func intKind(n *node) (signed, ok bool) {
	phys := n.physical()
	if phys != format.Int32 && phys != format.Int64 {
		return false, false
	}
	fits := func(bits int) bool {
		if phys == format.Int32 {
			return bits == 8 || bits == 16 || bits == 32
		}
		return bits == 64
	}
	if lt := n.elem.LogicalType.Value; lt != nil {
		it, isInt := lt.(*format.IntType)
		if !isInt || !fits(int(it.BitWidth)) {
			return false, false
		}
		return it.IsSigned, true
	}
	if !n.elem.ConvertedType.Valid {
		return true, true
	}
	switch n.elem.ConvertedType.V {
	case deprecated.Int8:
		return true, fits(8)
	case deprecated.Int16:
		return true, fits(16)
	case deprecated.Int32:
		return true, fits(32)
	case deprecated.Int64:
		return true, fits(64)
	case deprecated.Uint8:
		return false, fits(8)
	case deprecated.Uint16:
		return false, fits(16)
	case deprecated.Uint32:
		return false, fits(32)
	case deprecated.Uint64:
		return false, fits(64)
	}
	return false, false
}

// valueKind says how values of a leaf column are decoded.
type valueKind int

const (
	kindString valueKind = iota
	kindInt32
	kindUint32
	kindInt64
	kindUint64
	kindFloat
	kindDouble
)

func intValueKind(n *node) (valueKind, bool) {
	signed, ok := intKind(n)
	if !ok {
		return 0, false
	}
	switch {
	case n.physical() == format.Int32 && signed:
		return kindInt32, true
	case n.physical() == format.Int32:
		return kindUint32, true
	case signed:
		return kindInt64, true
	default:
		return kindUint64, true
	}
}

// wantKind is the parquet-go Kind that values of a valueKind must decode to.
func (k valueKind) wantKind() parquet.Kind {
	switch k {
	case kindString:
		return parquet.ByteArray
	case kindInt32, kindUint32:
		return parquet.Int32
	case kindFloat:
		return parquet.Float
	case kindDouble:
		return parquet.Double
	default:
		return parquet.Int64
	}
}

// flatColumn is a validated top-level, non-repeated leaf column.
type flatColumn struct {
	name string
	leaf int // leaf column index within row groups
	kind valueKind
}

// child returns the top-level field named name, or nil.
func child(root *node, name string) *node {
	for _, c := range root.children {
		if c.name() == name {
			return c
		}
	}
	return nil
}

// topLevel returns the top-level field named name, or an error listing the
// available columns.
func topLevel(root *node, name string) (*node, error) {
	if c := child(root, name); c != nil {
		return c, nil
	}
	names := make([]string, 0, len(root.children))
	for i, c := range root.children {
		if i == 20 {
			names = append(names, fmt.Sprintf("... %d more", len(root.children)-20))
			break
		}
		names = append(names, c.name())
	}
	return nil, fmt.Errorf("missing column %q (columns: %s)", name, strings.Join(names, ", "))
}

// checkLeafShape rejects groups and repeated leaves for a column that must
// hold one value per row; what describes the wanted values ("a string").
func checkLeafShape(n *node, what string) error {
	switch {
	case n.isList():
		return fmt.Errorf("column %q is a list (%s), want %s per row", n.name(), n.describe(), what)
	case !n.leaf():
		return fmt.Errorf("column %q is a nested group (%s), want a top-level column with %s per row", n.name(), n.describe(), what)
	case n.repeated():
		return fmt.Errorf("column %q is repeated (%s), want %s per row", n.name(), n.describe(), what)
	}
	return nil
}

// leafIndex returns the leaf column index of n, checking that parquet-go
// decodes it with the expected physical kind.
func leafIndex(n *node, want parquet.Kind) (int, error) {
	idx := n.col.Index()
	if idx < 0 {
		return 0, fmt.Errorf("column %q has no column data", n.name())
	}
	if got := n.col.Type().Kind(); got != want {
		return 0, fmt.Errorf("column %q has inconsistent type annotations (%s)", n.name(), n.describe())
	}
	return idx, nil
}

// flatType says which values a flat (one value per row) column may hold.
type flatType struct {
	one  string // what a row holds, for shape errors: "a single string"
	want string // the accepted types, for type errors: "a string (BYTE_ARRAY UTF8/STRING)"
	// decimal is appended to the type error of a DECIMAL column.
	decimal string
	kind    func(n *node) (valueKind, bool)
}

var (
	idType = flatType{one: "a single string or integer", want: "a string or an integer", kind: func(n *node) (valueKind, bool) {
		if isStringLeaf(n) {
			return kindString, true
		}
		return intValueKind(n)
	}}
	textType = flatType{one: "a single string", want: "a string (BYTE_ARRAY UTF8/STRING)", kind: func(n *node) (valueKind, bool) {
		return kindString, isStringLeaf(n)
	}}
	intType = flatType{one: "a single integer", want: "an integer (INT32 or INT64)",
		decimal: "; cast the column to BIGINT", kind: intValueKind}
	floatType = flatType{one: "a single number", want: "a float (FLOAT or DOUBLE) or an integer",
		decimal: "; cast the column to DOUBLE (DuckDB gives literals such as 0.7 the DECIMAL type)", kind: numberValueKind}
)

// checkFlat validates that n is a top-level, non-repeated leaf column holding
// values of type t.
func checkFlat(n *node, t flatType) (flatColumn, error) {
	if err := checkLeafShape(n, t.one); err != nil {
		return flatColumn{}, err
	}
	kind, ok := t.kind(n)
	if !ok {
		hint := ""
		if n.isDecimal() {
			hint = t.decimal
		}
		return flatColumn{}, fmt.Errorf("column %q has type %s, want %s%s", n.name(), n.describe(), t.want, hint)
	}
	idx, err := leafIndex(n, kind.wantKind())
	if err != nil {
		return flatColumn{}, err
	}
	return flatColumn{name: n.name(), leaf: idx, kind: kind}, nil
}

// checkFlatColumn looks up the top-level column name and validates it with
// checkFlat.
func checkFlatColumn(root *node, name string, t flatType) (flatColumn, error) {
	n, err := topLevel(root, name)
	if err != nil {
		return flatColumn{}, err
	}
	return checkFlat(n, t)
}

func checkIDColumn(root *node, name string) (flatColumn, error) {
	return checkFlatColumn(root, name, idType)
}

func checkTextColumn(root *node, name string) (flatColumn, error) {
	return checkFlatColumn(root, name, textType)
}

// isDecimal reports whether n carries the DECIMAL annotation.
func (n *node) isDecimal() bool {
	if lt := n.elem.LogicalType.Value; lt != nil {
		_, ok := lt.(*format.DecimalType)
		return ok
	}
	return n.elem.ConvertedType.Valid && n.elem.ConvertedType.V == deprecated.Decimal
}

// numberValueKind accepts unannotated FLOAT and DOUBLE leaves and integer
// leaves (as intValueKind).
func numberValueKind(n *node) (valueKind, bool) {
	if n.elem.LogicalType.Value == nil && !n.elem.ConvertedType.Valid {
		switch n.physical() {
		case format.Float:
			return kindFloat, true
		case format.Double:
			return kindDouble, true
		}
	}
	return intValueKind(n)
}

// listColumn is a validated list column.
type listColumn struct {
	name string
	leaf int
	kind valueKind
	// nullable reports whether the list itself may be null (definition level
	// 0 then means null).
	nullable bool
	// listDef is the definition level at which a list element exists;
	// values with a lower level are null or empty lists.
	listDef int
	// maxDef is the definition level of a non-null element; levels in
	// [listDef, maxDef) are null elements.
	maxDef int
}

const wantTokenList = "want a list of integers (LIST<INT32> or LIST<INT64>)"

func checkTokensColumn(root *node, name string) (listColumn, error) {
	n, err := topLevel(root, name)
	if err != nil {
		return listColumn{}, err
	}
	return checkList(n, wantTokenList, intValueKind)
}

// checkList validates that n is a list column whose elements elemKind
// accepts; want describes the wanted type for errors. Accepted layouts: a
// standard 3-level LIST, optional or required, with optional or required
// elements, or a legacy 2-level list (a LIST group over a repeated leaf, or a
// bare repeated leaf).
func checkList(n *node, want string, elemKind func(*node) (valueKind, bool)) (listColumn, error) {
	name := n.name()
	var elem *node
	switch {
	case n.leaf() && n.repeated():
		// Legacy 2-level list without a group: a bare repeated leaf.
		elem = n
	case n.leaf():
		return listColumn{}, fmt.Errorf("column %q has type %s, %s", name, n.describe(), want)
	case n.repeated():
		return listColumn{}, fmt.Errorf("column %q is repeated (%s), %s", name, n.describe(), want)
	case !n.isList():
		return listColumn{}, fmt.Errorf("column %q is a nested group (%s), %s", name, n.describe(), want)
	default:
		elem = listElement(n)
		if elem == nil || !elem.leaf() {
			return listColumn{}, fmt.Errorf("column %q is a %s, %s", name, n.describe(), want)
		}
	}
	kind, ok := elemKind(elem)
	if !ok {
		return listColumn{}, fmt.Errorf("column %q is a list of %s, %s", name, strings.TrimPrefix(elem.describe(), "repeated "), want)
	}
	idx, err := leafIndex(elem, kind.wantKind())
	if err != nil {
		return listColumn{}, err
	}
	lc := listColumn{name: name, leaf: idx, kind: kind, nullable: n.optional(), maxDef: elem.col.MaxDefinitionLevel()}
	lc.listDef = 1
	if lc.nullable {
		lc.listDef = 2
	}
	if elem.col.MaxRepetitionLevel() != 1 || lc.maxDef < lc.listDef || lc.maxDef > lc.listDef+1 {
		return listColumn{}, fmt.Errorf("column %q has an unsupported list layout (%s), %s", name, n.describe(), want)
	}
	return lc, nil
}
