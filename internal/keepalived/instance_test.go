package keepalived

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    []Instance
		wantErr string
	}{
		{name: "defaults", src: "vrrp_instance VI_1 {\n  interface eth0\n}\n",
			want: []Instance{{Name: "VI_1", Line: 1, Priority: 100, AdvertInt: time.Second, Version: 2}}},
		{name: "every keyword", src: `global_defs {
    vrrp_version 3   # all instances
}
vrrp_instance VI_1 {
    state backup
    nopreempt
    virtual_router_id 51
    priority 254
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.100/24 dev eth0
    }
    track_script {
        priority 1
    }
}
`, want: []Instance{{Name: "VI_1", Line: 4, State: "BACKUP", Priority: 254, AdvertInt: 100 * time.Millisecond, Version: 3, Nopreempt: true, VRID: 51}}},
		{name: "per-instance version wins over the global one", src: "global_defs {\nvrrp_version 3\n}\nvrrp_instance A {\nversion 2\n}\nvrrp_instance B {\n}\n",
			want: []Instance{
				{Name: "A", Line: 4, Priority: 100, AdvertInt: time.Second, Version: 2},
				{Name: "B", Line: 7, Priority: 100, AdvertInt: time.Second, Version: 3},
			}},
		{name: "parameters, comments, brace on its own line", src: "$PRIO=253\n$V=3\n! a comment\nvrrp_instance VI_2\n{\n  priority ${PRIO}  # node B\n  version $V\n  # nopreempt\n}\n",
			want: []Instance{{Name: "VI_2", Line: 4, Priority: 253, AdvertInt: time.Second, Version: 3}}},
		{name: "one-line block", src: "vrrp_instance X { priority 200 nopreempt }\n",
			want: []Instance{{Name: "X", Line: 1, Priority: 200, AdvertInt: time.Second, Version: 2}}},
		{name: "priority outside an instance is not the instance's", src: "vrrp_sync_group G {\n priority 5\n}\nvrrp_instance X {\n}\n",
			want: []Instance{{Name: "X", Line: 4, Priority: 100, AdvertInt: time.Second, Version: 2}}},
		{name: "preempt after nopreempt", src: "vrrp_instance X {\nnopreempt\npreempt\n}\n",
			want: []Instance{{Name: "X", Line: 1, Priority: 100, AdvertInt: time.Second, Version: 2}}},
		{name: "bad values, all reported", src: "vrrp_instance X {\npriority high\nadvert_int -1\nversion 4\n}\n",
			want:    []Instance{{Name: "X", Line: 1, Priority: 100, AdvertInt: time.Second, Version: 2}},
			wantErr: "line 2: vrrp_instance X: priority \"high\": want 1-255\nline 3: vrrp_instance X: advert_int \"-1\": want seconds, e.g. 1 or 0.1\nline 4: vrrp_instance X: version: \"4\": want 2 or 3"},
		{name: "undefined parameter", src: "vrrp_instance X {\npriority ${NOPE}\n}\n",
			want:    []Instance{{Name: "X", Line: 1, Priority: 100, AdvertInt: time.Second, Version: 2}},
			wantErr: `priority "${NOPE}"`},
		{name: "parameters inside a one-line block, bare use at the end", src: "$P=201\n$N=4\nvrrp_instance X { priority ${P}\nvirtual_router_id $N }\n",
			want: []Instance{{Name: "X", Line: 3, Priority: 201, AdvertInt: time.Second, Version: 2, VRID: 4}}},
		{name: "no instance", src: "global_defs {\n}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.src)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got.Instances, tc.want) {
				t.Errorf("got %+v\nwant %+v", got.Instances, tc.want)
			}
		})
	}
}

func TestSkewTime(t *testing.T) {
	for _, tc := range []struct {
		prio    int
		advert  time.Duration
		version int
		want    time.Duration
	}{
		{100, time.Second, 2, 609375 * time.Microsecond},
		{150, time.Second, 2, 414063 * time.Microsecond},
		{253, time.Second, 2, 11719 * time.Microsecond},
		{254, time.Second, 2, 7813 * time.Microsecond},
		{254, 2 * time.Second, 2, 15625 * time.Microsecond},
		{100, 100 * time.Millisecond, 3, 60938 * time.Microsecond},
		{100, 100 * time.Millisecond, 2, 609375 * time.Microsecond}, // VRRPv2 sends 1 s
		{1, time.Second, 2, 996094 * time.Microsecond},
	} {
		got := SkewTime(Instance{Priority: tc.prio, AdvertInt: tc.advert, Version: tc.version}).Round(time.Microsecond)
		if got != tc.want {
			t.Errorf("priority %d, advert_int %v, v%d: %v, want %v", tc.prio, tc.advert, tc.version, got, tc.want)
		}
	}
}

func TestAdvise(t *testing.T) {
	good := Instance{Name: "VI", Line: 3, State: "BACKUP", Priority: 254, AdvertInt: time.Second, Version: 2, Nopreempt: true, VRID: 51}
	with := func(f func(*Instance)) Config {
		in := good
		f(&in)
		return Config{Instances: []Instance{in}}
	}
	tests := []struct {
		name  string
		local Config
		peers []Config
		want  []string // one substring per warning, in order
	}{
		{name: "example, node A", local: with(func(*Instance) {})},
		{name: "example, node B, against A", local: with(func(in *Instance) { in.Priority = 253 }), peers: []Config{with(func(*Instance) {})}},
		{name: "old priority 100", local: with(func(in *Instance) { in.Priority = 100 }), want: []string{"this node waits 609ms (skew time, (256 - 100)/256 x 1s)"}},
		{name: "215 is the edge: 160 ms", local: with(func(in *Instance) { in.Priority = 215 }), want: []string{"waits 160ms"}},
		{name: "243 waits 51 ms", local: with(func(in *Instance) { in.Priority = 243 }), want: []string{"waits 51ms"}},
		{name: "244 waits 47 ms, fine", local: with(func(in *Instance) { in.Priority = 244 })},
		{name: "VRRPv3 fast adverts make 100 fine", local: with(func(in *Instance) { in.Priority = 100; in.Version = 3; in.AdvertInt = 50 * time.Millisecond })},
		{name: "fractional advert under VRRPv2", local: with(func(in *Instance) { in.AdvertInt = 100 * time.Millisecond }), want: []string{"advert_int 100ms under VRRPv2 is sent as 1s"}},
		{name: "255", local: with(func(in *Instance) { in.Priority = 255 }), want: []string{"priority 255 is reserved"}},
		{name: "no nopreempt", local: with(func(in *Instance) { in.Nopreempt = false }), want: []string{"no nopreempt"}},
		{name: "nopreempt with MASTER", local: with(func(in *Instance) { in.State = "MASTER" }), want: []string{"nopreempt with state MASTER"}},
		{name: "equal priorities", local: with(func(*Instance) {}), peers: []Config{with(func(*Instance) {})}, want: []string{"priority 254 on both nodes"}},
		{name: "equal priorities of another router do not matter", local: with(func(*Instance) {}), peers: []Config{with(func(in *Instance) { in.VRID = 52 })}},
		{name: "everything at once", local: with(func(in *Instance) { in.Priority = 100; in.Nopreempt = false }), peers: []Config{with(func(in *Instance) { in.Priority = 100 })},
			want: []string{"waits 609ms", "no nopreempt", "priority 100 on both nodes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			adv := Advise(tc.local, tc.peers...)
			if len(adv) != 1 {
				t.Fatalf("%d advices, want 1", len(adv))
			}
			got := adv[0].Warnings
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) || !strings.HasPrefix(got[i], "vrrp_instance VI (line 3): ") {
					t.Errorf("warning %d: %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestExampleNeedsNoWarning reads examples/keepalived.conf as shipped (node
// A) and as node B renders it (PRIORITY 253): neither node waits more than
// MaxSkew, and the two do not share a priority.
func TestExampleNeedsNoWarning(t *testing.T) {
	b, err := os.ReadFile("../../examples/keepalived.conf")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	srcB := strings.Replace(string(b), "\n$PRIORITY=254\n", "\n$PRIORITY=253\n", 1)
	if srcB == string(b) {
		t.Fatal("examples/keepalived.conf has no $PRIORITY=254 line")
	}
	nb, err := Parse(srcB)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		node       string
		self, peer Config
	}{{"a", a, nb}, {"b", nb, a}} {
		adv := Advise(tc.self, tc.peer)
		if len(adv) != 1 {
			t.Fatalf("node %s: %d vrrp_instances, want 1", tc.node, len(adv))
		}
		if w := adv[0].Warnings; len(w) > 0 {
			t.Errorf("node %s: %q", tc.node, w)
		}
		t.Logf("node %s: priority %d, skew time %v", tc.node, adv[0].Instance.Priority, adv[0].Skew)
	}
}

// The example's track file, check script and notify line are read as
// keepalived reads them.
func TestParseScriptsAndTrackFiles(t *testing.T) {
	c, err := Parse(`$HACHECK=/usr/sbin/hacheck
$CONF=/etc/hacheck/hacheck.yaml
track_file hacheck_drain {
    file "/var/lib/hacheck/keepalived.track"
    weight 0
}
vrrp_script hacheck_check {
    script "${HACHECK} check --config ${CONF}"
    interval 1
    timeout 3
}
vrrp_instance VI_1 {
    priority 254
    notify "${HACHECK} notify --config ${CONF}"
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TrackFiles["hacheck_drain"]; got != "/var/lib/hacheck/keepalived.track" {
		t.Errorf("track file %q", got)
	}
	if sc := c.Scripts["hacheck_check"]; sc.Command != "/usr/sbin/hacheck check --config /etc/hacheck/hacheck.yaml" || sc.Timeout != 3*time.Second {
		t.Errorf("script %+v", sc)
	}
	if c.Instances[0].Notify != "/usr/sbin/hacheck notify --config /etc/hacheck/hacheck.yaml" {
		t.Errorf("notify %q", c.Instances[0].Notify)
	}
}
