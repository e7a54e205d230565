//! git's commit-graph file (`objects/info/commit-graph`, or the `commit-graphs/` chain), read
//! for the history walk: each commit's root tree, parents and committer time without inflating
//! the commit object. libgit2's revwalk reads this file for parents and times, but its API gives
//! no tree id, so the walk otherwise inflates and parses all 24,000 commits of a history again
//! (a sixth of the walk's CPU on the openfoodnetwork shape) to learn each commit's tree.
//!
//! Format: git's Documentation/gitformat-commit-graph.txt, version 1, SHA-1. Anything
//! unexpected (another version or hash, a chunk out of bounds, a count that does not add up)
//! and the graph is not used: the walk reads commits as before. A commit the graph does not
//! hold (written after it) is read from the object database too.

use std::collections::HashMap;
use std::path::Path;

const HASH: usize = 20;
/// "No parent" in CDAT's parent fields.
const NO_PARENT: u32 = 0x7000_0000;
/// The second parent field points into EDGE (an octopus merge), and EDGE's last parent.
const EDGE_BIT: u32 = 0x8000_0000;

/// One commit as the graph records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphCommit {
    pub tree: [u8; HASH],
    pub parents: Vec<[u8; HASH]>,
    /// Committer time, seconds since the epoch (what `git_commit_time` returns).
    pub time: i64,
}

/// One graph file of the chain: its bytes and where its chunks are.
struct Layer {
    bytes: Vec<u8>,
    fanout: usize,
    oids: usize,
    data: usize,
    edges: Option<(usize, usize)>,
    count: usize,
    /// Commits in the layers below this one (positions are global along the chain).
    below: usize,
}

pub struct CommitGraph {
    layers: Vec<Layer>,
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

impl Layer {
    fn parse(bytes: Vec<u8>, below: usize) -> Option<Layer> {
        if bytes.get(..4)? != b"CGPH" || *bytes.get(4)? != 1 || *bytes.get(5)? != 1 {
            return None;
        }
        let chunks = usize::from(*bytes.get(6)?);
        let (mut fanout, mut oids, mut data, mut edges) = (None, None, None, None);
        let table = 8;
        for i in 0..chunks {
            let at = table + 12 * i;
            let id = bytes.get(at..at + 4)?;
            let start = usize::try_from(be64(&bytes, at + 4)?).ok()?;
            let end = usize::try_from(be64(&bytes, at + 16)?).ok()?;
            if start > end || end > bytes.len() {
                return None;
            }
            match id {
                b"OIDF" => fanout = Some((start, end)),
                b"OIDL" => oids = Some((start, end)),
                b"CDAT" => data = Some((start, end)),
                b"EDGE" => edges = Some((start, end)),
                _ => {}
            }
        }
        let (fanout, oids, data) = (fanout?, oids?, data?);
        if fanout.1 - fanout.0 != 256 * 4 {
            return None;
        }
        let count = usize::try_from(be32(&bytes, fanout.0 + 255 * 4)?).ok()?;
        if oids.1 - oids.0 != count * HASH || data.1 - data.0 != count * (HASH + 16) {
            return None;
        }
        Some(Layer {
            bytes,
            fanout: fanout.0,
            oids: oids.0,
            data: data.0,
            edges,
            count,
            below,
        })
    }

    /// The commit's index in this layer (binary search within its fanout bucket).
    fn find(&self, oid: &[u8; HASH]) -> Option<usize> {
        let first = usize::from(oid[0]);
        let lo = if first == 0 {
            0
        } else {
            be32(&self.bytes, self.fanout + (first - 1) * 4)? as usize
        };
        let hi = (be32(&self.bytes, self.fanout + first * 4)? as usize).min(self.count);
        let (mut lo, mut hi) = (lo.min(hi), hi);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = self.oids + mid * HASH;
            match self.bytes.get(at..at + HASH)?.cmp(&oid[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

impl CommitGraph {
    /// The repository's commit graph (`git_dir/objects`), or None when it has none or it
    /// cannot be read as expected.
    pub fn open(objects: &Path) -> Option<CommitGraph> {
        let info = objects.join("info");
        let single = info.join("commit-graph");
        let files: Vec<std::path::PathBuf> = match single.is_file() {
            true => vec![single],
            false => {
                let chain =
                    std::fs::read_to_string(info.join("commit-graphs/commit-graph-chain")).ok()?;
                chain
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|h| {
                        if h.len() != 2 * HASH || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                            None
                        } else {
                            Some(info.join(format!("commit-graphs/graph-{h}.graph")))
                        }
                    })
                    .collect::<Option<Vec<_>>>()?
            }
        };
        let mut layers = Vec::new();
        let mut below = 0;
        for f in files {
            let layer = Layer::parse(std::fs::read(f).ok()?, below)?;
            below += layer.count;
            layers.push(layer);
        }
        (!layers.is_empty()).then_some(CommitGraph { layers })
    }

    fn layer_of(&self, position: usize) -> Option<&Layer> {
        self.layers
            .iter()
            .find(|l| position >= l.below && position < l.below + l.count)
    }

    fn oid_at(&self, position: usize) -> Option<[u8; HASH]> {
        let layer = self.layer_of(position)?;
        let at = layer.oids + (position - layer.below) * HASH;
        layer.bytes.get(at..at + HASH)?.try_into().ok()
    }

    /// The commit's position along the chain.
    fn position(&self, oid: &[u8; HASH]) -> Option<usize> {
        // A commit is in exactly one layer.
        self.layers
            .iter()
            .rev()
            .find_map(|l| l.find(oid).map(|i| l.below + i))
    }

    /// The tree, the parents' positions and the committer time of the commit at `position`.
    fn entry(&self, position: usize) -> Option<([u8; HASH], Vec<usize>, i64)> {
        let layer = self.layer_of(position)?;
        let at = layer.data + (position - layer.below) * (HASH + 16);
        let b = &layer.bytes;
        let tree: [u8; HASH] = b.get(at..at + HASH)?.try_into().ok()?;
        let p1 = be32(b, at + HASH)?;
        let p2 = be32(b, at + HASH + 4)?;
        let high = be32(b, at + HASH + 8)?;
        let low = be32(b, at + HASH + 12)?;
        let time = (i64::from(high & 0x3) << 32) | i64::from(low);
        let total = self.layers.last().map_or(0, |l| l.below + l.count);
        let mut parents = Vec::new();
        if p1 != NO_PARENT {
            parents.push(p1 as usize);
        }
        if p2 != NO_PARENT {
            if p2 & EDGE_BIT == 0 {
                parents.push(p2 as usize);
            } else {
                let (start, end) = layer.edges?;
                let mut at = start + 4 * (p2 & !EDGE_BIT) as usize;
                loop {
                    if at + 4 > end {
                        return None;
                    }
                    let e = be32(b, at)?;
                    parents.push((e & !EDGE_BIT) as usize);
                    if e & EDGE_BIT != 0 {
                        break;
                    }
                    at += 4;
                }
            }
        }
        // A parent is an older commit: in this layer or one below, never past the chain.
        if parents.iter().any(|p| *p >= total) {
            return None;
        }
        Some((tree, parents, time))
    }

    /// The commit's tree, parents and time, or None when the graph does not hold it.
    pub fn commit(&self, oid: &[u8; HASH]) -> Option<GraphCommit> {
        let (tree, parents, time) = self.entry(self.position(oid)?)?;
        Some(GraphCommit {
            tree,
            parents: parents
                .into_iter()
                .map(|p| self.oid_at(p))
                .collect::<Option<Vec<_>>>()?,
            time,
        })
    }

    /// Every commit reachable from `tip`, in the order libgit2's revwalk gives with
    /// `TOPOLOGICAL | TIME | REVERSE` and `tip` pushed alone (parents before children, ties
    /// broken as its time-ordered binary heap breaks them: the port below keeps its sift-up
    /// and sift-down step for step, so the walk's output does not change). libgit2 does not use
    /// a graph file git ≥ 2.34 writes (it rejects the GDA2 chunk) and inflates every commit;
    /// this reads 36 bytes a commit. None when a reachable commit is not in the graph.
    pub fn topo_order(&self, tip: &[u8; HASH]) -> Option<Vec<[u8; HASH]>> {
        let start = self.position(tip)?;
        // In-degree within the reachable set, as sort_in_topological_order counts it: 1 for
        // being in the list, plus one per child edge (0: not reachable, or already emitted).
        let mut degree: HashMap<usize, u32> = HashMap::new();
        let mut parents_of: HashMap<usize, (Vec<usize>, i64)> = HashMap::new();
        let mut stack = vec![start];
        degree.insert(start, 1);
        while let Some(c) = stack.pop() {
            let (_, parents, time) = self.entry(c)?;
            for p in &parents {
                if let std::collections::hash_map::Entry::Vacant(e) = degree.entry(*p) {
                    e.insert(1);
                    stack.push(*p);
                }
            }
            parents_of.insert(c, (parents, time));
        }
        for (parents, _) in parents_of.values() {
            for p in parents {
                *degree.entry(*p).or_insert(0) += 1;
            }
        }
        if degree.get(&start) != Some(&1) {
            return None; // the tip is its own ancestor: not a real history
        }
        let time = |c: usize| parents_of.get(&c).map_or(0, |e| e.1);
        // git_commit_list_time_cmp: the later commit sorts first.
        let cmp = |a: usize, b: usize| time(b).cmp(&time(a));
        let set = |heap: &mut [usize], el: usize, item: usize| {
            if let Some(slot) = heap.get_mut(el) {
                *slot = item;
            }
        };
        let mut heap: Vec<usize> = Vec::new();
        // git_pqueue_insert: append, then sift up while the parent sorts after the item.
        let push = |heap: &mut Vec<usize>, item: usize| {
            heap.push(item);
            let mut el = heap.len().saturating_sub(1);
            while el > 0 {
                let parent_el = (el - 1) >> 1;
                let Some(parent) = heap.get(parent_el).copied() else {
                    break;
                };
                if cmp(parent, item) != std::cmp::Ordering::Greater {
                    break;
                }
                set(heap, el, parent);
                el = parent_el;
            }
            set(heap, el, item);
        };
        // git_pqueue_pop: take the top, move the last item there, sift it down.
        let pop = |heap: &mut Vec<usize>| -> Option<usize> {
            let top = *heap.first()?;
            let last = heap.pop()?;
            if !heap.is_empty() {
                let mut el = 0;
                loop {
                    let mut kid_el = 2 * el + 1;
                    let Some(mut kid) = heap.get(kid_el).copied() else {
                        break;
                    };
                    if let Some(r) = heap.get(kid_el + 1).copied()
                        && cmp(kid, r) == std::cmp::Ordering::Greater
                    {
                        kid = r;
                        kid_el += 1;
                    }
                    if cmp(last, kid) != std::cmp::Ordering::Greater {
                        break;
                    }
                    set(heap, el, kid);
                    el = kid_el;
                }
                set(heap, el, last);
            }
            Some(top)
        };
        push(&mut heap, start);
        let mut order = Vec::with_capacity(parents_of.len());
        while let Some(next) = pop(&mut heap) {
            if let Some((parents, _)) = parents_of.get(&next) {
                for p in parents {
                    let Some(d) = degree.get_mut(p).filter(|d| **d != 0) else {
                        continue;
                    };
                    *d -= 1;
                    if *d == 1 {
                        push(&mut heap, *p);
                    }
                }
            }
            degree.insert(next, 0);
            order.push(next);
        }
        if order.len() != parents_of.len() {
            return None;
        }
        order.reverse();
        order.into_iter().map(|p| self.oid_at(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_graph_is_not_used() {
        assert!(Layer::parse(b"CGPH\x02\x01\x00\x00".to_vec(), 0).is_none());
        assert!(Layer::parse(b"nope".to_vec(), 0).is_none());
        // Chunk table pointing past the end of the file.
        let mut bytes = b"CGPH\x01\x01\x01\x00OIDF".to_vec();
        bytes.extend_from_slice(&1000u64.to_be_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&2000u64.to_be_bytes());
        assert!(Layer::parse(bytes, 0).is_none());
    }
}
