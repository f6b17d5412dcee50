package keepalived

import (
	"fmt"
	"math"
	"time"
)

// Advice is what hacheck says about one vrrp_instance: how long this node
// waits before it takes over after the master steps down (its skew time),
// and what in the instance works against a fast, explicit move.
type Advice struct {
	Instance Instance
	Skew     time.Duration
	Warnings []string
}

// SentAdvertInt is the advert interval the instance really sends: VRRPv3
// carries centiseconds; VRRPv2 carries whole seconds, so a fractional
// advert_int goes out rounded, and never below 1 s.
func SentAdvertInt(in Instance) time.Duration {
	if in.Version == 3 {
		return in.AdvertInt.Round(10 * time.Millisecond)
	}
	return max(time.Second, in.AdvertInt.Round(time.Second))
}

// SkewTime is VRRP's skew time of in: after the master's priority-0 advert
// (a FAULT, as `hacheck drain` causes) a backup takes over after
// (256 - its own priority) / 256 x advert interval. It is set by the node
// that takes over, so in a pair each node's own file decides how long a
// move to that node takes.
func SkewTime(in Instance) time.Duration {
	return time.Duration(math.Round(float64(256-in.Priority) * float64(SentAdvertInt(in)) / 256))
}

// Advise reviews each vrrp_instance of local (this node's file); peers,
// when known, are the other nodes' files, compared with local for equal
// priorities (instances with the same virtual_router_id, or the same name
// when neither sets one). It warns when the skew time exceeds MaxSkew, on
// priority 255, on equal priorities, on a missing nopreempt (or one that
// keepalived ignores because the state is MASTER), and on a fractional
// advert_int under VRRPv2.
func Advise(local Config, peers ...Config) []Advice {
	out := make([]Advice, 0, len(local.Instances))
	for _, in := range local.Instances {
		a := Advice{Instance: in, Skew: SkewTime(in)}
		warn := func(format string, args ...any) {
			a.Warnings = append(a.Warnings, fmt.Sprintf("vrrp_instance %s (line %d): ", in.Name, in.Line)+fmt.Sprintf(format, args...))
		}
		if in.Priority == OwnerPriority {
			warn("priority 255 is reserved for the owner of the address; use 254 on one node and 253 on the other")
		} else if a.Skew > MaxSkew {
			warn("priority %d with advert interval %v: this node waits %v (skew time, (256 - %d)/256 x %v) before it takes over after a drain; use 254 on one node and 253 on the other (%v and %v)",
				in.Priority, SentAdvertInt(in), a.Skew.Round(time.Millisecond), in.Priority, SentAdvertInt(in),
				SkewTime(Instance{Priority: 254, AdvertInt: in.AdvertInt, Version: in.Version}).Round(time.Millisecond),
				SkewTime(Instance{Priority: 253, AdvertInt: in.AdvertInt, Version: in.Version}).Round(time.Millisecond))
		}
		if in.Version != 3 && in.AdvertInt != SentAdvertInt(in) {
			warn("advert_int %v under VRRPv2 is sent as %v (whole seconds); set version 3 for a sub-second interval", in.AdvertInt, SentAdvertInt(in))
		}
		switch {
		case !in.Nopreempt:
			warn("no nopreempt: a node that comes back (undrain, reboot) takes the VIP back by itself, before its database is the primary; set state BACKUP and nopreempt on both nodes")
		case in.State == "MASTER":
			warn("nopreempt with state MASTER: keepalived honours nopreempt only with state BACKUP; set state BACKUP on both nodes")
		}
		for _, p := range peers {
			for _, o := range p.Instances {
				if same(in, o) && o.Priority == in.Priority {
					warn("priority %d on both nodes: after the master steps down both backups take over at the same instant and one backs off only afterwards; give the nodes distinct priorities (254 and 253)", in.Priority)
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// same reports whether a and b are the same VRRP router on two nodes.
func same(a, b Instance) bool {
	if a.VRID != 0 || b.VRID != 0 {
		return a.VRID == b.VRID
	}
	return a.Name == b.Name
}
