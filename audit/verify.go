package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxLine bounds one record line when reading a log.
const maxLine = 1 << 20

// Anchor is a chain head stored elsewhere ("SEQ:HASH"), against which a log
// can be checked for truncation or rewriting.
type Anchor struct {
	Seq  uint64
	Hash string
}

func (a Anchor) String() string { return fmt.Sprintf("%d:%s", a.Seq, a.Hash) }

// ParseAnchor parses "SEQ:HASH".
func ParseAnchor(s string) (Anchor, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || len(hash) != 64 {
		return Anchor{}, fmt.Errorf("anchor %q is not SEQ:HASH (as printed by 'keyward audit anchor')", s)
	}
	return Anchor{Seq: n, Hash: hash}, nil
}

// Problem is the first inconsistency Verify found.
type Problem struct {
	Line   int    // 1-based line number; 0 for problems with the log as a whole
	Reason string // what is wrong
}

func (p *Problem) Error() string {
	if p.Line == 0 {
		return "audit log is not intact: " + p.Reason
	}
	return fmt.Sprintf("audit log is not intact: line %d: %s", p.Line, p.Reason)
}

// Result summarises a verified log.
type Result struct {
	Records int
	Head    Anchor // the last record's seq and hash
}

// Verify reads a log and checks every record's own hash, its link to the
// previous line, and the sequence. With an anchor it also checks that the
// anchored record is present and unchanged (catching truncation and
// wholesale rewrites). It returns a *Problem for the first bad line.
func Verify(r io.Reader, anchor *Anchor) (*Result, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	res := &Result{}
	var prevHash string
	var prevSeq uint64
	anchorSeen := false
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br, false)
		if err == io.EOF {
			break
		}
		if err != nil {
			var p *Problem
			if errors.As(err, &p) {
				p.Line = lineNo
			}
			return res, err
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return res, &Problem{lineNo, "not a complete record (a partial write, or an edit that broke the JSON)"}
		}
		want := rec.Hash
		sealed, err := seal(&rec)
		if err != nil || rec.Hash != want || !bytes.Equal(sealed, line) {
			return res, &Problem{lineNo, "record was edited (its hash does not match its content)"}
		}
		if rec.Prev != prevHash {
			return res, &Problem{lineNo, "chain is broken: the record before it was deleted, inserted, edited or reordered"}
		}
		if rec.Seq != prevSeq+1 {
			return res, &Problem{lineNo, fmt.Sprintf("sequence jumps from %d to %d (records deleted, inserted or reordered)", prevSeq, rec.Seq)}
		}
		if anchor != nil && rec.Seq == anchor.Seq {
			if rec.Hash != anchor.Hash {
				return res, &Problem{lineNo, "record differs from the anchor (the log was rewritten)"}
			}
			anchorSeen = true
		}
		prevHash, prevSeq = lineHash(line), rec.Seq
		res.Records++
		res.Head = Anchor{Seq: rec.Seq, Hash: rec.Hash}
	}
	if anchor != nil && !anchorSeen {
		return res, &Problem{0, fmt.Sprintf("truncated: the log ends at record %d but the anchor is record %d", prevSeq, anchor.Seq)}
	}
	return res, nil
}

// readLine reads one line without its newline. A line longer than
// maxLine is a *Problem; with skipLong its remainder is read and dropped
// (in bounded memory) so that the next call starts at the next line,
// otherwise the reader is left inside it.
func readLine(br *bufio.Reader, skipLong bool) ([]byte, error) {
	var line []byte
	long := false
	for {
		frag, err := br.ReadSlice('\n')
		if !long {
			line = append(line, frag...)
			if len(line) > maxLine {
				if !skipLong {
					return nil, &Problem{0, "record longer than 1 MiB"}
				}
				long, line = true, nil
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if long && (err == nil || err == io.EOF) {
			return nil, &Problem{0, "record longer than 1 MiB"}
		}
		if err == io.EOF {
			if len(line) == 0 {
				return nil, io.EOF
			}
			return nil, &Problem{0, "the last record is incomplete (no newline: a partial write or truncation)"}
		}
		if err != nil {
			return nil, err
		}
		return line[:len(line)-1], nil
	}
}

// Filter selects records for Search.
type Filter struct {
	Key     string
	Actor   string // substring of Actor.String() or exact user
	Action  string
	Env     string
	Outcome string
	Since   time.Time
	HMAC    string // value_hmac
}

func (f *Filter) match(r *Record) bool {
	switch {
	case f.Key != "" && !r.HasKey(f.Key),
		f.Action != "" && r.Action != f.Action && !strings.HasPrefix(r.Action, f.Action+"."),
		f.Env != "" && r.Env != f.Env,
		f.Outcome != "" && r.Outcome != f.Outcome,
		!f.Since.IsZero() && r.Time.Before(f.Since),
		f.HMAC != "" && !r.HasValueHMAC(f.HMAC),
		f.Actor != "" && r.Actor.User != f.Actor && !strings.Contains(r.Actor.String(), f.Actor):
		return false
	}
	return true
}

// Search returns the records matching f, oldest first; at most limit of the
// newest when limit > 0. Unparsable lines are skipped (Verify reports them).
func Search(r io.Reader, f Filter, limit int) ([]Record, error) {
	return SearchWarn(r, f, limit, nil)
}

// SearchWarn is Search that tells warn (when not nil) about each line it
// steps over that Verify would report as a problem: a line longer than
// 1 MiB, or an incomplete last line. line is 1-based.
func SearchWarn(r io.Reader, f Filter, limit int, warn func(line int, reason string)) ([]Record, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []Record
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br, true)
		if err == io.EOF {
			break
		}
		if err != nil {
			var p *Problem
			if errors.As(err, &p) {
				if warn != nil {
					warn(lineNo, p.Reason)
				}
				continue
			}
			return out, err
		}
		var rec Record
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		if f.match(&rec) {
			out = append(out, rec)
			if limit > 0 && len(out) > 2*limit {
				out = append(out[:0], out[len(out)-limit:]...)
			}
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}
