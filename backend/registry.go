package backend

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Opener makes a backend from options (see Options); Register files one under a
// name.
type Opener func(opts Options) (Backend, error)

// Options are the settings a backend is opened with: string keys and values, so
// that a flag or config value reaches any backend unchanged. Each backend
// documents the keys it knows (backend/cpu: "conv.forward", "conv.backward"...)
// and rejects the ones it does not.
type Options map[string]string

var (
	mu      sync.RWMutex
	openers = map[string]Opener{}
	opened  = map[string]Backend{}
	deflt   atomic.Pointer[Backend] // lock-free: Default is read once per op in places
)

// Register makes a backend available under name. It panics when the name is
// taken or open is nil, as database/sql.Register does: both are programming errors
// found at init time.
func Register(name string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	if open == nil {
		panic("backend: Register opener is nil")
	}
	if _, dup := openers[name]; dup {
		panic("backend: Register called twice for " + name)
	}
	openers[name] = open
}

// Names returns the registered backend names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(openers))
	for n := range openers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Open returns the backend registered under name opened with its default options.
// The backend is opened once and shared: every later Open of the name returns the
// same value.
func Open(name string) (Backend, error) {
	mu.RLock()
	b, ok := opened[name]
	mu.RUnlock()
	if ok {
		return b, nil
	}
	b, err := OpenWith(name, nil)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if o, ok := opened[name]; ok {
		return o, nil
	}
	opened[name] = b
	return b, nil
}

// OpenWith opens a fresh backend registered under name with opts (for tests and
// benchmarks that force a kernel or lowering); it is not shared.
func OpenWith(name string, opts Options) (Backend, error) {
	mu.RLock()
	open, ok := openers[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("backend: no backend %q registered (registered: %s)", name, strings.Join(Names(), ", "))
	}
	return open(opts)
}

// SetDefault makes b the backend that Default returns: what tensor graphs, optim,
// eval and collapse compute on unless told otherwise. `--device` sets it.
func SetDefault(b Backend) { deflt.Store(&b) }

// Default returns the backend set by SetDefault, or else the "cpu" backend
// (registered by backend/cpu, which package tensor imports). It panics when
// neither exists, which a program that imports tensor cannot reach.
func Default() Backend {
	if p := deflt.Load(); p != nil {
		return *p
	}
	b, err := Open("cpu")
	if err != nil {
		panic(err)
	}
	deflt.CompareAndSwap(nil, &b)
	return *deflt.Load()
}
