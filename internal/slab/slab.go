// Package slab hands out objects of one type carved from slabs (one
// allocation per many objects) and recycles the ones given back. It is for
// per-flow state that lives and dies with flows: millions of them are
// never allocated one by one, and a recycled object keeps what its owner
// wants kept (buffers, slices' capacity).
//
// A Pool is not safe for concurrent use: one per owner (a shard).
package slab

// Pool recycles *T. The zero value is not usable: call New.
type Pool[T any] struct {
	free []*T
	slab []T
	size int
}

// New returns a pool that allocates perSlab objects at a time.
func New[T any](perSlab int) *Pool[T] { return &Pool[T]{size: max(perSlab, 1)} }

// Get returns an object given back by Put, as it was put back (the caller
// resets it), or a zeroed object never handed out before (fresh).
func (p *Pool[T]) Get() (obj *T, fresh bool) {
	if n := len(p.free); n > 0 {
		obj = p.free[n-1]
		p.free = p.free[:n-1]
		return obj, false
	}
	if len(p.slab) == 0 {
		p.slab = make([]T, p.size)
	}
	obj = &p.slab[0]
	p.slab = p.slab[1:]
	return obj, true
}

// Put gives obj back for a later Get. The caller must not use it again.
func (p *Pool[T]) Put(obj *T) { p.free = append(p.free, obj) }
