package db

import (
	"fmt"
	"strconv"
	"strings"
)

// GTID is one MariaDB global transaction id, domain-server-seq.
type GTID struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
}

func (g GTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.ServerID, g.Seq) }

// GTIDList is a MariaDB GTID position such as @@gtid_binlog_pos:
// comma-separated GTIDs, normally one per replication domain.
type GTIDList []GTID

func (l GTIDList) String() string {
	parts := make([]string, len(l))
	for i, g := range l {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// ParseMariaDBGTIDList parses a MariaDB GTID position ("0-1-100,1-2-7").
// Blanks around entries are ignored; an empty string is an empty position.
func ParseMariaDBGTIDList(s string) (GTIDList, error) {
	var l GTIDList
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("parse gtid %q: want domain-server-seq", part)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		srv, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("parse gtid %q: want three unsigned numbers domain-server-seq", part)
		}
		l = append(l, GTID{Domain: uint32(d), ServerID: uint32(srv), Seq: seq})
	}
	return l, nil
}

// MergeGTIDLists returns, for each domain found in any list, the GTID with
// the highest sequence number (the first one seen on a tie). It combines
// @@gtid_binlog_pos and @@gtid_slave_pos into "everything this server has".
func MergeGTIDLists(lists ...GTIDList) GTIDList {
	var out GTIDList
	idx := map[uint32]int{}
	for _, l := range lists {
		for _, g := range l {
			i, ok := idx[g.Domain]
			if !ok {
				idx[g.Domain] = len(out)
				out = append(out, g)
				continue
			}
			if g.Seq > out[i].Seq {
				out[i] = g
			}
		}
	}
	return out
}

// MissingGTIDs returns the entries of want that have does not cover. A
// GTID d-s-n is covered when have holds, for domain d, a sequence number
// above n, or n itself from the same server s. The same sequence number
// from another server is a different transaction (diverged histories) and
// counts as missing. Like MASTER_GTID_WAIT, a higher seq_no in the domain
// is taken as proof: MariaDB sequence numbers only grow within a domain.
func MissingGTIDs(have, want GTIDList) []GTID {
	best := MergeGTIDLists(have)
	byDomain := make(map[uint32]GTID, len(best))
	for _, g := range best {
		byDomain[g.Domain] = g
	}
	var missing []GTID
	for _, w := range want {
		h, ok := byDomain[w.Domain]
		switch {
		case !ok, h.Seq < w.Seq:
			missing = append(missing, w)
		case h.Seq == w.Seq && h.ServerID != w.ServerID:
			// Also look for an exact match among have's other entries.
			found := false
			for _, g := range have {
				if g == w {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, w)
			}
		}
	}
	return missing
}

// LagTransactions counts the transactions of want that have lacks, by
// sequence numbers per domain (MariaDB numbers them without gaps within a
// domain): how far a replica at have is behind a primary at want.
func LagTransactions(have, want GTIDList) int64 {
	best := MergeGTIDLists(have)
	byDomain := make(map[uint32]uint64, len(best))
	for _, g := range best {
		byDomain[g.Domain] = g.Seq
	}
	var n int64
	for _, w := range MergeGTIDLists(want) {
		if h := byDomain[w.Domain]; w.Seq > h {
			n += int64(w.Seq - h)
		}
	}
	return n
}
