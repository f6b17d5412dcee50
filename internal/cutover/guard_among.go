package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hacheck/hacheck/internal/health"
)

// GuardPeer is one peer of a node with several (peers:), as the
// split-brain guard and PrepareStandby ask it: its hacheck's /status and
// its server.
type GuardPeer struct {
	DB     DB // nil: no mysql_dsn
	Status func(context.Context) (health.Report, error)
}

// askPeers reads every peer at once, each as the guard reads a pair's
// peer, and merges what they say into f (see mergePeerFacts).
func askPeers(ctx context.Context, local DB, peers []GuardPeer, f *GuardFacts) {
	each := make([]GuardFacts, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() {
			g := &each[i]
			if p.DB != nil {
				g.PeerDBAsked, g.PeerServer = true, p.DB.String()
				g.PeerDB, g.PeerDBErr = p.DB.ReadOnly(ctx)
				if g.PeerDBErr == nil {
					g.PeerAhead, g.PeerAheadErr = peerAhead(ctx, local, p.DB)
				}
			}
			if p.Status == nil {
				g.PeerErr = errors.New("the peer's url is not set")
			} else {
				g.Peer, g.PeerErr = p.Status(ctx)
			}
		})
	}
	wg.Wait()
	mergePeerFacts(f, each)
}

// mergePeerFacts folds what several peers said into the one-peer facts
// evaluateGuard judges, the most dangerous first: a peer that holds the
// VIP, else any peer whose VIP view is unknown, else "no node holds it";
// a writable peer server, else any unread one, else every one read-only
// (ahead when any is ahead; the comparison unknown when any is unknown).
func mergePeerFacts(f *GuardFacts, each []GuardFacts) {
	if len(each) == 0 {
		f.PeerErr = errors.New("no peer is configured")
		return
	}
	var names, errs []string
	vipSet, dbSet := false, false
	for _, g := range each {
		if g.PeerServer != "" {
			names = append(names, g.PeerServer)
		}
		if held, known := g.Peer.HoldsVIP(); g.PeerErr == nil && known && held && !vipSet {
			f.Peer, f.PeerErr, vipSet = g.Peer, nil, true
		}
		if g.PeerDBAsked && g.PeerDBErr == nil && !g.PeerDB.Fenced() && !dbSet {
			f.PeerDBAsked, f.PeerDB, f.PeerDBErr, dbSet = true, g.PeerDB, nil, true
		}
	}
	f.PeerServer = strings.Join(names, ", ")
	if !vipSet {
		f.Peer, f.PeerErr = each[0].Peer, nil
		for _, g := range each {
			if _, known := g.Peer.HoldsVIP(); g.PeerErr != nil {
				errs = append(errs, g.PeerErr.Error())
			} else if !known {
				f.Peer = g.Peer // reports no VIP: unknown
			}
		}
		if len(errs) > 0 {
			f.PeerErr = errors.New(strings.Join(errs, "; "))
		}
	}
	if dbSet {
		return
	}
	f.PeerDBAsked = true
	f.PeerDB = each[0].PeerDB
	for _, g := range each {
		switch {
		case !g.PeerDBAsked:
			f.PeerDBAsked = false
		case g.PeerDBErr != nil:
			f.PeerDBErr = fmt.Errorf("%s: %w", g.PeerServer, g.PeerDBErr)
		case g.PeerAheadErr != nil:
			f.PeerAheadErr = g.PeerAheadErr
		case g.PeerAhead:
			f.PeerAhead = true
		}
	}
}
