package state

import "testing"

func TestOwnerAlive(t *testing.T) {
	o := Owner{PID: 10, BootID: "boot-1", StartTicks: 500}
	cases := []struct {
		name string
		o    Owner
		l    Liveness
		want bool
	}{
		{"same process", o, Liveness{BootID: "boot-1", PIDRunning: true, StartTicks: 500}, true},
		{"no such pid", o, Liveness{BootID: "boot-1"}, false},
		{"pid reused by a later process", o, Liveness{BootID: "boot-1", PIDRunning: true, StartTicks: 900}, false},
		{"rebooted since", o, Liveness{BootID: "boot-2", PIDRunning: true, StartTicks: 500}, false},
		{"owner recorded no start time", Owner{PID: 10}, Liveness{BootID: "boot-1", PIDRunning: true, StartTicks: 900}, true},
	}
	for _, c := range cases {
		if got := c.o.Alive(c.l); got != c.want {
			t.Errorf("%s: Alive = %v, want %v", c.name, got, c.want)
		}
	}
	if self := Self(); !self.Alive(Look(self)) || self.BootID == "" || self.StartTicks == 0 {
		t.Errorf("this process %+v is not alive by its own look", self)
	}
}

func TestParseStartTicks(t *testing.T) {
	stat := "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615"
	if got, err := parseStartTicks(stat); err != nil || got != 987654 {
		t.Fatalf("parseStartTicks = %d, %v; want 987654", got, err)
	}
	if _, err := parseStartTicks("4242 (x) S 1"); err == nil {
		t.Fatal("short stat parsed")
	}
}
