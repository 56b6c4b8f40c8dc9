package io.gpuvirt.core.ledger;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Free candidate groups arranged by where they sit: host, NUMA node, root bus, then the bridges from
 * the root port down; each group hangs under the deepest level common to its requested devices.
 *
 * <p>Choosing {@code r} devices under a node splits {@code r} among its children with a small
 * dynamic program over exact sums (a group contributes all its requested devices or none), then
 * recurses. Packing minimizes (children used, free devices left in the children used): the fewest
 * subtrees, and among those the ones that fit most tightly (best fit), so that large subtrees stay
 * whole. Spreading maximizes the children used and then minimizes the largest share of any child.
 * Ties go to the child with more capacity, then the lower NUMA node, bus or address.
 */
final class PlacementTree {

  /** A level of the tree, or a leaf holding one candidate group. */
  static final class Node {
    final String label;
    final long sortKey;
    final int depth;
    final Optional<GroupCandidate> group;
    /** The children by label while the tree is built (none for a leaf). */
    final Map<String, Node> byLabel;
    List<Node> children = List.of();
    int capacity;
    BitSet achievable;

    Node(String label, long sortKey, int depth, Optional<GroupCandidate> group) {
      this.label = label;
      this.sortKey = sortKey;
      this.depth = depth;
      this.group = group;
      this.byLabel = group.isPresent() ? Map.of() : new LinkedHashMap<>();
    }

    boolean canHold(int r) {
      return r >= 0 && achievable.get(r);
    }
  }

  /** Siblings in order: by sort key, then label. */
  private static final Comparator<Node> SIBLINGS = Comparator.comparingLong((Node n) -> n.sortKey)
      .thenComparing(n -> n.label);

  private final Node root;
  private final int limit;

  private PlacementTree(Node root, int limit) {
    this.root = root;
    this.limit = limit;
  }

  /** Builds the tree of {@code candidates} for requests of at most {@code limit} devices. */
  static PlacementTree of(List<GroupCandidate> candidates, int limit) {
    Node root = new Node("host", 0, 0, Optional.empty());
    for (GroupCandidate c : candidates) {
      Node at = root;
      for (LocalityStep step : c.path()) {
        Node parent = at;
        at = parent.byLabel.computeIfAbsent(step.label(),
            k -> new Node(step.label(), step.sortKey(), parent.depth + 1, Optional.empty()));
      }
      String label = "IOMMU group " + c.number();
      at.byLabel.put(label, new Node(label, c.number(), at.depth + 1, Optional.of(c)));
    }
    finish(root, limit);
    return new PlacementTree(root, limit);
  }

  private static void finish(Node node, int limit) {
    BitSet sums = new BitSet(limit + 1);
    sums.set(0);
    if (node.group.isPresent()) {
      int w = node.group.get().weight();
      node.capacity = w;
      if (w <= limit) {
        sums.set(w);
      }
      node.achievable = sums;
      return;
    }
    List<Node> children = new ArrayList<>(node.byLabel.values());
    children.sort(SIBLINGS);
    node.children = children;
    int capacity = 0;
    for (Node child : node.children) {
      finish(child, limit);
      capacity += child.capacity;
      BitSet next = new BitSet(limit + 1);
      for (int a = sums.nextSetBit(0); a >= 0; a = sums.nextSetBit(a + 1)) {
        for (int b = child.achievable.nextSetBit(0); b >= 0 && a + b <= limit;
            b = child.achievable.nextSetBit(b + 1)) {
          next.set(a + b);
        }
      }
      sums = next;
    }
    node.capacity = capacity;
    node.achievable = sums;
  }

  Node root() {
    return root;
  }

  /** The NUMA-node level (children of the root). */
  List<Node> numaNodes() {
    return root.children;
  }

  /**
   * The bridge subtree (root port or switch) with the fewest free devices that can hold exactly
   * {@code r}, deepest first on ties.
   */
  Optional<Node> tightestBridgeFor(int r) {
    List<Node> found = new ArrayList<>();
    collectBridges(root, r, found);
    return found.stream().min(Comparator.comparingInt((Node n) -> n.capacity)
        .thenComparing(Comparator.comparingInt((Node n) -> n.depth).reversed()));
  }

  private static void collectBridges(Node node, int r, List<Node> out) {
    if (node.group.isPresent()) {
      return;
    }
    if (node.depth >= 3 && node.canHold(r)) {
      out.add(node);
    }
    node.children.forEach(c -> collectBridges(c, r, out));
  }

  /** Chooses groups holding exactly {@code r} requested devices under {@code node}. */
  List<GroupCandidate> select(Node node, int r, boolean spread) {
    if (!node.canHold(r)) {
      throw new IllegalStateException(node.label + " cannot hold " + r);
    }
    List<GroupCandidate> out = new ArrayList<>();
    select(node, r, spread, out);
    out.sort(Comparator.comparingInt(GroupCandidate::number));
    return out;
  }

  private void select(Node node, int r, boolean spread, List<GroupCandidate> out) {
    if (r == 0) {
      return;
    }
    if (node.group.isPresent()) {
      out.add(node.group.get());
      return;
    }
    List<Node> kids = node.children.stream()
        .sorted(Comparator.comparingInt((Node n) -> -n.capacity)).toList();
    int[] amounts = split(kids, r, spread);
    for (int i = 0; i < kids.size(); i++) {
      select(kids.get(i), amounts[i], spread, out);
    }
  }

  /** Lexicographic cost of a split. */
  private record Cost(int first, int second) implements Comparable<Cost> {
    @Override
    public int compareTo(Cost o) {
      return first != o.first ? Integer.compare(first, o.first) : Integer.compare(second, o.second);
    }
  }

  private static Cost add(Cost rest, Node child, int amount, boolean spread) {
    if (rest == null || amount == 0) {
      return rest;
    }
    return spread ? new Cost(rest.first - 1, Math.max(rest.second, amount))
        : new Cost(rest.first + 1, rest.second + child.capacity - amount);
  }

  /** How many devices to take from each child: optimal by cost, larger shares to earlier children on ties. */
  private int[] split(List<Node> kids, int r, boolean spread) {
    int k = kids.size();
    Cost[][] best = new Cost[k + 1][r + 1];
    best[k][0] = new Cost(0, 0);
    for (int i = k - 1; i >= 0; i--) {
      Node child = kids.get(i);
      for (int t = 0; t <= r; t++) {
        Cost b = null;
        for (int a = child.achievable.nextSetBit(0); a >= 0 && a <= t;
            a = child.achievable.nextSetBit(a + 1)) {
          Cost c = add(best[i + 1][t - a], child, a, spread);
          if (c != null && (b == null || c.compareTo(b) < 0)) {
            b = c;
          }
        }
        best[i][t] = b;
      }
    }
    int[] amounts = new int[k];
    int t = r;
    for (int i = 0; i < k; i++) {
      Node child = kids.get(i);
      for (int a = Math.min(t, limit); a >= 0; a--) {
        if (child.achievable.get(a)) {
          Cost c = add(best[i + 1][t - a], child, a, spread);
          if (c != null && c.compareTo(best[i][t]) == 0) {
            amounts[i] = a;
            t -= a;
            break;
          }
        }
      }
    }
    if (t != 0) {
      throw new IllegalStateException("no split of " + r);
    }
    return amounts;
  }
}
