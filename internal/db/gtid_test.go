package db

import (
	"reflect"
	"testing"
)

func TestParseMariaDBGTIDList(t *testing.T) {
	tests := []struct {
		in      string
		want    GTIDList
		wantErr bool
	}{
		{"", nil, false},
		{"0-1-100", GTIDList{{0, 1, 100}}, false},
		{"0-1-100,1-2-7", GTIDList{{0, 1, 100}, {1, 2, 7}}, false},
		{" 0-1-100 ,\n1-2-7 ", GTIDList{{0, 1, 100}, {1, 2, 7}}, false},
		{"0-4294967295-18446744073709551615", GTIDList{{0, 4294967295, 18446744073709551615}}, false},
		{"0-1", nil, true},
		{"0-1-x", nil, true},
		{"-1-1-1", nil, true},
		{"0-4294967296-1", nil, true},
		{"73f86016-978b-11ee-ade5-8d2a2a562feb:1-3", nil, true}, // a MySQL GTID set
	}
	for _, tt := range tests {
		got, err := ParseMariaDBGTIDList(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMariaDBGTIDList(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if s := (GTIDList{{0, 1, 100}, {1, 2, 7}}).String(); s != "0-1-100,1-2-7" {
		t.Errorf("String() = %q", s)
	}
}

func TestMissingGTIDs(t *testing.T) {
	tests := []struct {
		name, have, want, missing string
	}{
		{"nothing wanted", "0-1-5", "", ""},
		{"nothing had", "", "0-1-5", "0-1-5"},
		{"exact", "0-1-5", "0-1-5", ""},
		{"ahead", "0-1-9", "0-1-5", ""},
		{"behind", "0-1-4", "0-1-5", "0-1-5"},
		// A higher seq_no in the domain written by another server: the
		// domain moved on past the wanted transaction.
		{"ahead, other server", "0-2-9", "0-1-5", ""},
		// The same seq_no from another server is another transaction.
		{"diverged", "0-2-5", "0-1-5", "0-1-5"},
		{"two domains, one behind", "0-1-9,1-3-2", "0-1-9,1-3-4", "1-3-4"},
		{"domain unknown", "0-1-9", "0-1-9,2-1-1", "2-1-1"},
		{"two domains, both fine", "1-3-4,0-1-9", "0-1-9,1-3-4", ""},
		{"duplicate domain in have takes the highest", "0-1-3,0-2-8", "0-1-7", ""},
		{"duplicate domain, exact match on the lower", "0-1-7,0-2-7", "0-1-7", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := ParseMariaDBGTIDList(tt.have)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ParseMariaDBGTIDList(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if got := GTIDList(MissingGTIDs(have, want)).String(); got != tt.missing {
				t.Errorf("MissingGTIDs(%q, %q) = %q, want %q", tt.have, tt.want, got, tt.missing)
			}
		})
	}
}

func TestMergeGTIDLists(t *testing.T) {
	binlog, _ := ParseMariaDBGTIDList("0-1-10,1-1-3")
	slave, _ := ParseMariaDBGTIDList("0-2-12,2-2-1")
	if got := MergeGTIDLists(binlog, slave).String(); got != "0-2-12,1-1-3,2-2-1" {
		t.Errorf("merge = %q", got)
	}
}

func TestLagTransactions(t *testing.T) {
	l := func(s string) GTIDList {
		g, err := ParseMariaDBGTIDList(s)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	for _, c := range []struct {
		have, want string
		n          int64
	}{
		{"0-1-100", "0-1-157", 57},
		{"0-1-157", "0-1-157", 0},
		{"0-1-200", "0-1-157", 0},
		{"", "0-1-10,1-2-5", 15},
		{"0-1-10,1-2-1", "0-1-12,1-2-5", 6},
	} {
		if got := LagTransactions(l(c.have), l(c.want)); got != c.n {
			t.Errorf("LagTransactions(%q, %q) = %d, want %d", c.have, c.want, got, c.n)
		}
	}
}
