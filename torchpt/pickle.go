package torchpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// hooks are the only way a pickle can reach outside plain data: naming a
// global, calling one (REDUCE, NEWOBJ) and loading a persistent id (PyTorch's
// tensor storages). The torch implementation allows a fixed list of names and
// maps each call to a Go function that builds data; nothing is imported or run.
type hooks interface {
	global(module, name string) (any, error)
	call(fn any, args Tuple) (any, error)
	persistentLoad(pid any) (any, error)
}

// unpickler is a pickle virtual machine for protocols 0-5 restricted to data.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	meta  [][]any // stacks saved by MARK
	memo  map[uint64]any
	h     hooks
}

// errTruncated reports input that ends inside an opcode.
var errTruncated = errors.New("truncated pickle")

// unpickle runs the pickle in data and returns its result.
func unpickle(data []byte, h hooks) (any, error) {
	u := &unpickler{data: data, memo: map[uint64]any{}, h: h}
	v, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	}
	return v, nil
}

// pickle opcodes (Lib/pickletools.py).
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opPersID         = 'P'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'
	opProto          = 0x80
	opNewObj         = 0x81
	opExt1           = 0x82
	opExt2           = 0x83
	opExt4           = 0x84
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opEmptySet       = 0x8f
	opAddItems       = 0x90
	opFrozenSet      = 0x91
	opNewObjEx       = 0x92
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	opByteArray8     = 0x96
	opNextBuffer     = 0x97
	opReadonlyBuffer = 0x98
)

func (u *unpickler) read(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

func (u *unpickler) readByte() (byte, error) {
	b, err := u.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// readLine returns the bytes up to the next '\n' (excluded).
func (u *unpickler) readLine() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", errTruncated
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and restores the stack
// below it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.meta) == 0 {
		return nil, errors.New("MARK missing")
	}
	items := u.stack
	u.stack = u.meta[len(u.meta)-1]
	u.meta = u.meta[:len(u.meta)-1]
	return items, nil
}

func (u *unpickler) put(i uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) get(i uint64) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo key %d not found", i)
	}
	u.push(v)
	return nil
}

// opName names an opcode in errors.
func opName(op byte) string {
	if op >= 0x20 && op < 0x7f {
		return fmt.Sprintf("%q", rune(op))
	}
	return fmt.Sprintf("0x%02x", op)
}

func (u *unpickler) run() (any, error) {
	for {
		at := u.pos
		op, err := u.readByte()
		if err != nil {
			return nil, errors.New("truncated pickle (no STOP opcode)")
		}
		if err := u.step(op); err != nil {
			if err == errStop {
				return u.pop()
			}
			return nil, fmt.Errorf("opcode %s at byte %d: %w", opName(op), at, err)
		}
	}
}

var errStop = errors.New("stop")

func (u *unpickler) step(op byte) error {
	switch op {
	case opStop:
		return errStop
	case opProto:
		p, err := u.readByte()
		if err != nil {
			return err
		}
		if p > 5 {
			return fmt.Errorf("unsupported pickle protocol %d", p)
		}
	case opFrame:
		n, err := u.readUint(8)
		if err != nil {
			return err
		}
		if n > uint64(len(u.data)-u.pos) {
			return errTruncated
		}
	case opMark:
		u.meta = append(u.meta, u.stack)
		u.stack = nil
	case opPop:
		if len(u.stack) > 0 {
			u.stack = u.stack[:len(u.stack)-1]
		} else if _, err := u.popMark(); err != nil {
			return err
		}
	case opPopMark:
		if _, err := u.popMark(); err != nil {
			return err
		}
	case opDup:
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)

	// Numbers.
	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt:
		v, err := u.readUint(4)
		if err != nil {
			return err
		}
		u.push(int64(int32(uint32(v))))
	case opBinInt1:
		v, err := u.readUint(1)
		if err != nil {
			return err
		}
		u.push(int64(v))
	case opBinInt2:
		v, err := u.readUint(2)
		if err != nil {
			return err
		}
		u.push(int64(v))
	case opLong1, opLong4:
		var n uint64
		var err error
		if op == opLong1 {
			n, err = u.readUint(1)
		} else {
			n, err = u.readUint(4)
			if err == nil && int32(uint32(n)) < 0 {
				err = errors.New("negative LONG4 length")
			}
		}
		if err != nil {
			return err
		}
		b, err := u.read(n)
		if err != nil {
			return err
		}
		u.push(decodeLong(b))
	case opInt:
		s, err := u.readLine()
		if err != nil {
			return err
		}
		switch s {
		case "00":
			u.push(false)
		case "01":
			u.push(true)
		default:
			v, err := parseInt(s)
			if err != nil {
				return err
			}
			u.push(v)
		}
	case opLong:
		s, err := u.readLine()
		if err != nil {
			return err
		}
		v, err := parseInt(strings.TrimSuffix(s, "L"))
		if err != nil {
			return err
		}
		u.push(v)
	case opFloat:
		s, err := u.readLine()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("bad float %.40q", s)
		}
		u.push(f)
	case opBinFloat:
		v, err := u.read(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(v)))

	// Strings and bytes.
	case opBinUnicode, opShortBinUni, opBinUnicode8, opBinString, opShortBinString:
		var n uint64
		var err error
		switch op {
		case opShortBinUni, opShortBinString:
			n, err = u.readUint(1)
		case opBinUnicode8:
			n, err = u.readUint(8)
		case opBinString:
			n, err = u.readUint(4)
			if err == nil && int32(uint32(n)) < 0 {
				err = errors.New("negative BINSTRING length")
			}
		default:
			n, err = u.readUint(4)
		}
		if err != nil {
			return err
		}
		b, err := u.read(n)
		if err != nil {
			return err
		}
		u.push(string(b))
	case opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		var n uint64
		var err error
		switch op {
		case opShortBinBytes:
			n, err = u.readUint(1)
		case opBinBytes:
			n, err = u.readUint(4)
		default:
			n, err = u.readUint(8)
		}
		if err != nil {
			return err
		}
		b, err := u.read(n)
		if err != nil {
			return err
		}
		u.push(bytes.Clone(b))
	case opUnicode:
		s, err := u.readLine()
		if err != nil {
			return err
		}
		v, err := rawUnicodeEscape(s)
		if err != nil {
			return err
		}
		u.push(v)
	case opString:
		s, err := u.readLine()
		if err != nil {
			return err
		}
		v, err := pythonStringLiteral(s)
		if err != nil {
			return err
		}
		u.push(v)

	// Containers.
	case opEmptyTuple:
		u.push(Tuple{})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(Tuple(append([]any{}, items...)))
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(u.stack) < n {
			return errors.New("stack underflow")
		}
		t := Tuple(append([]any{}, u.stack[len(u.stack)-n:]...))
		u.stack = u.stack[:len(u.stack)-n]
		u.push(t)
	case opEmptyList:
		u.push(&List{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&List{Items: append([]any{}, items...)})
	case opAppend:
		v, err := u.pop()
		if err != nil {
			return err
		}
		if err := u.appendTo([]any{v}); err != nil {
			return err
		}
	case opAppends:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		if err := u.appendTo(items); err != nil {
			return err
		}
	case opEmptyDict:
		u.push(NewDict())
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := NewDict()
		if err := setItems(d, items); err != nil {
			return err
		}
		u.push(d)
	case opSetItem:
		if len(u.stack) < 3 {
			return errors.New("stack underflow")
		}
		kv := u.stack[len(u.stack)-2:]
		u.stack = u.stack[:len(u.stack)-2]
		d, ok := u.stack[len(u.stack)-1].(*Dict)
		if !ok {
			return fmt.Errorf("SETITEM on a %s, not a dict", typeName(u.stack[len(u.stack)-1]))
		}
		if err := setItems(d, kv); err != nil {
			return err
		}
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		d, ok := t.(*Dict)
		if !ok {
			return fmt.Errorf("SETITEMS on a %s, not a dict", typeName(t))
		}
		if err := setItems(d, items); err != nil {
			return err
		}
	case opEmptySet, opAddItems, opFrozenSet:
		return errors.New("sets are not part of a state dict and are not supported")

	// Memo.
	case opPut:
		s, err := u.readLine()
		if err != nil {
			return err
		}
		i, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("bad memo key %.40q", s)
		}
		return u.put(i)
	case opBinPut:
		i, err := u.readUint(1)
		if err != nil {
			return err
		}
		return u.put(i)
	case opLongBinPut:
		i, err := u.readUint(4)
		if err != nil {
			return err
		}
		return u.put(i)
	case opMemoize:
		return u.put(uint64(len(u.memo)))
	case opGet:
		s, err := u.readLine()
		if err != nil {
			return err
		}
		i, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("bad memo key %.40q", s)
		}
		return u.get(i)
	case opBinGet:
		i, err := u.readUint(1)
		if err != nil {
			return err
		}
		return u.get(i)
	case opLongBinGet:
		i, err := u.readUint(4)
		if err != nil {
			return err
		}
		return u.get(i)

	// The only ways out of plain data, all through the hooks.
	case opGlobal:
		mod, err := u.readLine()
		if err != nil {
			return err
		}
		name, err := u.readLine()
		if err != nil {
			return err
		}
		g, err := u.h.global(mod, name)
		if err != nil {
			return err
		}
		u.push(g)
	case opStackGlobal:
		nv, err := u.pop()
		if err != nil {
			return err
		}
		mv, err := u.pop()
		if err != nil {
			return err
		}
		mod, ok1 := mv.(string)
		name, ok2 := nv.(string)
		if !ok1 || !ok2 {
			return errors.New("STACK_GLOBAL needs two strings")
		}
		g, err := u.h.global(mod, name)
		if err != nil {
			return err
		}
		u.push(g)
	case opReduce:
		a, err := u.pop()
		if err != nil {
			return err
		}
		args, ok := a.(Tuple)
		if !ok {
			return fmt.Errorf("REDUCE arguments are a %s, not a tuple", typeName(a))
		}
		fn, err := u.pop()
		if err != nil {
			return err
		}
		v, err := u.h.call(fn, args)
		if err != nil {
			return err
		}
		u.push(v)
	case opNewObj, opNewObjEx:
		if op == opNewObjEx {
			kw, err := u.pop()
			if err != nil {
				return err
			}
			if d, ok := kw.(*Dict); !ok || d.Len() != 0 {
				return errors.New("NEWOBJ_EX with keyword arguments is not supported")
			}
		}
		a, err := u.pop()
		if err != nil {
			return err
		}
		args, ok := a.(Tuple)
		if !ok {
			return fmt.Errorf("NEWOBJ arguments are a %s, not a tuple", typeName(a))
		}
		cls, err := u.pop()
		if err != nil {
			return err
		}
		v, err := u.h.call(cls, args)
		if err != nil {
			return err
		}
		u.push(v)
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return err
		}
		obj, err := u.top()
		if err != nil {
			return err
		}
		return build(obj, state)
	case opBinPersID:
		pid, err := u.pop()
		if err != nil {
			return err
		}
		v, err := u.h.persistentLoad(pid)
		if err != nil {
			return err
		}
		u.push(v)
	case opPersID:
		s, err := u.readLine()
		if err != nil {
			return err
		}
		v, err := u.h.persistentLoad(s)
		if err != nil {
			return err
		}
		u.push(v)
	case opInst:
		mod, err := u.readLine()
		if err != nil {
			return err
		}
		name, err := u.readLine()
		if err != nil {
			return err
		}
		return fmt.Errorf("refusing to instantiate %s.%s (INST): a checkpoint may only hold tensors, dicts, lists, tuples, strings and numbers", mod, name)
	case opObj:
		return errors.New("refusing to instantiate an object (OBJ): a checkpoint may only hold tensors, dicts, lists, tuples, strings and numbers")
	case opExt1, opExt2, opExt4:
		return errors.New("refusing an extension-registry global (EXT): only named, allowed globals are accepted")
	case opNextBuffer, opReadonlyBuffer:
		return errors.New("out-of-band buffers (pickle protocol 5) are not supported")
	default:
		return errors.New("unknown opcode")
	}
	return nil
}

// appendTo appends items to the list on top of the stack.
func (u *unpickler) appendTo(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	l, ok := t.(*List)
	if !ok {
		return fmt.Errorf("APPEND to a %s, not a list", typeName(t))
	}
	l.Items = append(l.Items, items...)
	return nil
}

// setItems stores alternating keys and values in d.
func setItems(d *Dict, kv []any) error {
	if len(kv)%2 != 0 {
		return errors.New("odd number of dict items")
	}
	for i := 0; i < len(kv); i += 2 {
		if err := d.Set(kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// build applies BUILD's state to obj. Only the attribute dictionary PyTorch
// attaches to a state dict (OrderedDict._metadata) is accepted; it is kept as
// data in Dict.Attrs. A tensor may get an empty state.
func build(obj, state any) error {
	var attrs *Dict
	switch s := state.(type) {
	case nil:
		return nil
	case *Dict:
		attrs = s
	case Tuple: // (instance dict, slot dict)
		if len(s) != 2 {
			return errors.New("BUILD state tuple of length != 2")
		}
		for _, p := range s {
			switch q := p.(type) {
			case nil:
			case *Dict:
				if attrs == nil {
					attrs = NewDict()
				}
				for i := 0; i < q.Len(); i++ {
					if err := attrs.Set(q.Key(i), q.Value(i)); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("BUILD state holds a %s", typeName(p))
			}
		}
	default:
		return fmt.Errorf("BUILD with a %s state is not supported", typeName(state))
	}
	if attrs == nil || attrs.Len() == 0 {
		return nil
	}
	switch o := obj.(type) {
	case *Dict:
		if o.Attrs == nil {
			o.Attrs = NewDict()
		}
		for i := 0; i < attrs.Len(); i++ {
			if _, ok := attrs.Key(i).(string); !ok {
				return errors.New("BUILD attribute name is not a string")
			}
			if err := o.Attrs.Set(attrs.Key(i), attrs.Value(i)); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("BUILD (setting attributes) on a %s is not supported", typeName(obj))
}

// decodeLong decodes a little-endian two's-complement integer of any length.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*len(b))
		return int64(v<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

// parseInt parses a decimal integer of any size.
func parseInt(s string) (any, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	if len(s) > 4096 {
		return nil, errors.New("integer literal too long")
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("bad integer %.40q", s)
	}
	return v, nil
}

// rawUnicodeEscape decodes Python's raw-unicode-escape codec (UNICODE opcode):
// \uXXXX and \UXXXXXXXX escapes, every other byte is a Latin-1 character.
func rawUnicodeEscape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(s) {
				return "", errors.New("truncated \\u escape")
			}
			r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32)
			if err != nil || r > utf8.MaxRune {
				return "", errors.New("bad \\u escape")
			}
			b.WriteRune(rune(r))
			i += 1 + n
			continue
		}
		b.WriteRune(rune(c))
	}
	return b.String(), nil
}

// pythonStringLiteral decodes the quoted repr of the STRING opcode.
func pythonStringLiteral(s string) (string, error) {
	if len(s) < 2 || s[0] != s[len(s)-1] || (s[0] != '\'' && s[0] != '"') {
		return "", errors.New("STRING argument is not quoted")
	}
	body := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 == len(body) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := body[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'x':
			if i+3 > len(body) {
				return "", errors.New("truncated \\x escape")
			}
			v, err := strconv.ParseUint(body[i+1:i+3], 16, 8)
			if err != nil {
				return "", errors.New("bad \\x escape")
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}
