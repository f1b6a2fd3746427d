package audit

import (
	"bufio"
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"os"
	"slices"
)

// Sorter is an external sort of records by id: records are buffered up to a
// memory budget, each full buffer is sorted and written to a run file, and
// Sorted merges the runs. Memory is the buffer plus one read buffer per run
// being merged, whatever the number of records. It is not safe for
// concurrent use.
type Sorter struct {
	dir      string
	budget   int
	buf      []Record
	bufBytes int
	runs     []string
	n        int64
	closed   bool
}

// Budgets of the external sort.
const (
	// DefaultSortBudget is the memory a Sorter buffers before it spills a
	// run: about 100k records of ~80 bytes.
	DefaultSortBudget = 8 << 20
	// mergeFanIn is the most runs merged at once; more are merged in
	// several passes.
	mergeFanIn = 64
	// readBufSize is the read buffer of each run being merged.
	readBufSize = 32 << 10
)

// NewSorter sorts in memory up to budget bytes (DefaultSortBudget if <= 0)
// and spills runs into dir.
func NewSorter(dir string, budget int) *Sorter {
	if budget <= 0 {
		budget = DefaultSortBudget
	}
	return &Sorter{dir: dir, budget: budget}
}

// Len is the number of records added.
func (s *Sorter) Len() int64 { return s.n }

// Add buffers r, spilling a run when the budget is full. r's strings must
// not alias a larger buffer (clone them), or the buffer stays alive.
func (s *Sorter) Add(r Record) error {
	s.buf = append(s.buf, r)
	s.bufBytes += r.size()
	s.n++
	if s.bufBytes >= s.budget {
		return s.spill()
	}
	return nil
}

func compareRecords(a, b Record) int {
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return a.CreatedAt.Compare(b.CreatedAt)
}

// spill writes the buffer as a sorted run and releases it.
func (s *Sorter) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	slices.SortFunc(s.buf, compareRecords)
	f, err := os.CreateTemp(s.dir, "audit-run-*")
	if err != nil {
		return fmt.Errorf("spilling sorted ids: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	bw := bufio.NewWriterSize(f, 64<<10)
	var scratch []byte
	for _, r := range s.buf {
		scratch = appendRecord(scratch[:0], r)
		if _, err := bw.Write(scratch); err != nil {
			f.Close()
			return fmt.Errorf("spilling sorted ids: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("spilling sorted ids: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("spilling sorted ids: %w", err)
	}
	clear(s.buf)
	s.buf, s.bufBytes = nil, 0
	return nil
}

// Finish spills what is buffered and merges runs until at most mergeFanIn
// remain, so that Sorted can open them all. After Finish nothing is held in
// memory.
func (s *Sorter) Finish() error {
	if err := s.spill(); err != nil {
		return err
	}
	for len(s.runs) > mergeFanIn {
		it, err := s.merge(s.runs[:mergeFanIn])
		if err != nil {
			return err
		}
		f, err := os.CreateTemp(s.dir, "audit-run-*")
		if err != nil {
			it.Close()
			return fmt.Errorf("merging sorted ids: %w", err)
		}
		bw := bufio.NewWriterSize(f, 64<<10)
		var scratch []byte
		for {
			r, err := it.Next()
			if err == io.EOF {
				break
			}
			if err == nil {
				scratch = appendRecord(scratch[:0], r)
				_, err = bw.Write(scratch)
			}
			if err != nil {
				it.Close()
				f.Close()
				return fmt.Errorf("merging sorted ids: %w", err)
			}
		}
		it.Close()
		if err := bw.Flush(); err != nil {
			f.Close()
			return fmt.Errorf("merging sorted ids: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("merging sorted ids: %w", err)
		}
		for _, name := range s.runs[:mergeFanIn] {
			_ = os.Remove(name)
		}
		s.runs = append(slices.Clone(s.runs[mergeFanIn:]), f.Name())
	}
	return nil
}

// Sorted returns the records in id order. Call Finish first.
func (s *Sorter) Sorted() (*Iterator, error) {
	if len(s.buf) > 0 || len(s.runs) > mergeFanIn {
		return nil, fmt.Errorf("audit: Sorted called before Finish")
	}
	return s.merge(s.runs)
}

// Close removes the run files.
func (s *Sorter) Close() {
	for _, name := range s.runs {
		_ = os.Remove(name)
	}
	s.runs, s.buf = nil, nil
}

func (s *Sorter) merge(names []string) (*Iterator, error) {
	it := &Iterator{}
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("reading sorted ids: %w", err)
		}
		src := &runReader{f: f, br: bufio.NewReaderSize(f, readBufSize)}
		it.files = append(it.files, f)
		if err := src.advance(); err == io.EOF {
			continue
		} else if err != nil {
			it.Close()
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		it.h = append(it.h, src)
	}
	heap.Init(&it.h)
	return it, nil
}

// Iterator yields records in id order; Next returns io.EOF at the end.
type Iterator struct {
	h     runHeap
	files []*os.File
}

// Next returns the next record.
func (it *Iterator) Next() (Record, error) {
	if len(it.h) == 0 {
		return Record{}, io.EOF
	}
	top := it.h[0]
	r := top.cur
	if err := top.advance(); err == io.EOF {
		heap.Pop(&it.h)
	} else if err != nil {
		return Record{}, fmt.Errorf("reading sorted ids: %w", err)
	} else {
		heap.Fix(&it.h, 0)
	}
	return r, nil
}

// Close releases the run files (they are removed by Sorter.Close).
func (it *Iterator) Close() {
	for _, f := range it.files {
		_ = f.Close()
	}
	it.files, it.h = nil, nil
}

type runReader struct {
	f   *os.File
	br  *bufio.Reader
	cur Record
}

func (r *runReader) advance() error {
	rec, err := readRecord(r.br)
	if err != nil {
		return err
	}
	r.cur = rec
	return nil
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return compareRecords(h[i].cur, h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
