"""Tree-by-tree evaluation of the fitted HistGradientBoostingClassifier, for fast reason ablations.

Why: explaining 100k rows re-predicts ~440k ablated rows, and the boosting model's own
``decision_function`` walks every tree for every one of them. Yet a swapped feature group can only
change a tree's output for a row whose path in that tree passes a split on that group; every other
(row, tree) pair keeps its leaf. :class:`BoostedTrees` records each row's leaf in every tree once,
then re-walks only the trees, and within them only the rows, whose path crosses such a split. The
log-odds it returns equal ``decision_function`` exactly (same leaves, summed in the same order), and
the ablation drops equal the straightforward per-group re-prediction up to float rounding
(``tests/test_model_reasons.py`` proves both).

It reads scikit-learn's private tree structures (``_predictors``, ``_preprocessor``, ``_bin_mapper``,
``_baseline_prediction``); the tests above fail loudly if an upgrade changes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads


class BoostedTrees:
    """The trees of a fitted binary HistGradientBoostingClassifier, walked one at a time.

    Columns are the classifier's input columns (the pipeline's encoded matrix, one per feature);
    :meth:`prepare` applies the classifier's own column-wise preprocessing once.
    """

    def __init__(self, classifier: HistGradientBoostingClassifier):
        if classifier.n_trees_per_iteration_ != 1:
            raise ValueError("BoostedTrees handles binary classifiers only")
        self._classifier = classifier
        self.trees: list[TreePredictor] = [iteration[0] for iteration in classifier._predictors]
        self._baseline = float(np.ravel(classifier._baseline_prediction)[0])
        self._known_bitsets, self._f_idx_map = classifier._bin_mapper.make_known_categories_bitsets()
        self._n_threads = _openmp_effective_n_threads()
        n_in = classifier.n_features_in_
        self.input_of_column = self._column_order(classifier, n_in)
        # a twin of each tree whose leaves hold their own node index: predicting with it gives leaf ids
        self._leaf_id_trees = []
        for tree in self.trees:
            nodes = tree.nodes.copy()
            nodes["value"] = np.arange(len(nodes), dtype=nodes["value"].dtype)
            self._leaf_id_trees.append(
                TreePredictor(nodes, tree.binned_left_cat_bitsets, tree.raw_left_cat_bitsets)
            )
        # per tree: nodes x input features, True when a split on that feature lies on the path to the node
        self._path_features = [self._features_on_paths(tree.nodes, n_in) for tree in self.trees]

    @staticmethod
    def _column_order(classifier: HistGradientBoostingClassifier, n_in: int) -> np.ndarray:
        """Input column of each prepared column (the classifier's ColumnTransformer reorders them)."""
        pre = classifier._preprocessor
        if pre is None:
            return np.arange(n_in)
        parts = [
            np.arange(n_in)[cols]
            for name, trans, cols in pre.transformers_
            if name != "remainder" and trans != "drop"
        ]
        order = np.concatenate(parts) if parts else np.arange(0)
        if sorted(order.tolist()) != list(range(n_in)):
            raise ValueError("unexpected preprocessing inside the boosting classifier")
        return order

    def _features_on_paths(self, nodes: np.ndarray, n_in: int) -> np.ndarray:
        on_path = np.zeros((len(nodes), n_in), dtype=bool)
        stack = [0]
        while stack:
            i = stack.pop()
            if nodes["is_leaf"][i]:
                continue
            below = on_path[i].copy()
            below[self.input_of_column[nodes["feature_idx"][i]]] = True
            for child in (nodes["left"][i], nodes["right"][i]):
                on_path[child] = below
                stack.append(int(child))
        return on_path

    def prepare(self, encoded: np.ndarray) -> np.ndarray:
        """What the trees read: the classifier's own preprocessing of the encoded rows, done once.

        Column-wise, so swapping a column before or after it gives the same matrix."""
        pre = self._classifier._preprocessor
        prepared = encoded if pre is None else pre.transform(encoded)
        return np.ascontiguousarray(prepared, dtype=np.float64)

    def to_prepared_columns(self, input_columns: Sequence[int]) -> np.ndarray:
        """Positions in the prepared matrix of the given input columns."""
        where = np.empty(len(self.input_of_column), dtype=np.intp)
        where[self.input_of_column] = np.arange(len(self.input_of_column))
        return where[np.asarray(input_columns, dtype=np.intp)]

    def predict_tree(self, t: int, prepared: np.ndarray) -> np.ndarray:
        """Output (log-odds increment) of tree ``t`` for each row."""
        return np.asarray(
            self.trees[t].predict(prepared, self._known_bitsets, self._f_idx_map, self._n_threads)
        )

    def leaves(self, prepared: np.ndarray) -> np.ndarray:
        """Leaf node index of each row in each tree (n_trees x n_rows)."""
        out = np.empty((len(self.trees), len(prepared)), dtype=np.int32)
        for t, tree in enumerate(self._leaf_id_trees):
            out[t] = tree.predict(prepared, self._known_bitsets, self._f_idx_map, self._n_threads)
        return out

    def leaf_values(self, t: int, leaf_ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.trees[t].nodes["value"][leaf_ids])

    def decision(self, leaves: np.ndarray) -> np.ndarray:
        """Log-odds from the leaves: equal to ``classifier.decision_function`` (same sum, same order)."""
        total = np.zeros(leaves.shape[1])
        total += self._baseline
        for t in range(len(self.trees)):
            total += self.leaf_values(t, leaves[t])
        return total

    def crosses(self, t: int, leaf_ids: np.ndarray, input_columns: Sequence[int]) -> np.ndarray:
        """Rows (given by their leaf in tree ``t``) whose path splits on any of ``input_columns``."""
        crossing_nodes = np.asarray(self._path_features[t][:, input_columns].any(axis=1))
        return np.asarray(crossing_nodes[leaf_ids])

    def uses(self, t: int, input_columns: Sequence[int]) -> bool:
        """Whether tree ``t`` splits on any of ``input_columns`` at all."""
        return bool(self._path_features[t][:, input_columns].any())
