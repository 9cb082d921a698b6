"""Generated tables shaped like the ones people download: scikit-learn's count-header files (iris,
wine, breast cancer), Kaggle's Iris.csv (an Id column, rows sorted by species) and a Titanic-like
table (text categories, empty cells). Realistic, not real: each feature separates the classes only
partly (no single column gives the answer away), all of them together well.

    python -m tests.table_files experiments/data    # rewrites the examples' CSV files
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SHAPES = {  # name: (rows, features, class names), as scikit-learn ships them
    "iris": (150, 4, ("setosa", "versicolor", "virginica")),
    "wine": (178, 13, ("class_0", "class_1", "class_2")),
    "breast_cancer": (569, 30, ("malignant", "benign")),
}
# Distance between neighbouring class means in noise widths: about the 93-98 % accuracies these
# sets are known for, not a trivially perfect score.
SEPARATION = {"iris": 4.0, "wine": 4.5, "breast_cancer": 4.0}


def separable(n: int, p: int, k: int, rng: np.random.Generator, separation: float = 4.0
              ) -> tuple[np.ndarray, np.ndarray]:
    """(x, labels): class means ``separation`` noise-widths apart along a direction that spreads
    over every feature, so each feature alone overlaps its neighbours' classes."""
    labels = np.sort(rng.integers(0, k, n))
    labels[:k] = np.arange(k)  # every class present
    labels = np.sort(labels)
    direction = rng.choice([-1.0, 1.0], p) / np.sqrt(p)
    x = labels[:, None] * separation * direction + rng.normal(size=(n, p))
    scale = rng.uniform(0.2, 30.0, p)
    offset = rng.uniform(0.0, 50.0, p)
    return np.round(x * scale + offset, 3), labels


def count_header_csv(name: str, seed: int = 0) -> str:
    """A table in scikit-learn's format: 'rows,features,class names' then rows of features and a label."""
    n, p, classes = SHAPES[name]
    x, y = separable(n, p, len(classes), np.random.default_rng(seed), SEPARATION[name])
    order = np.random.default_rng(seed + 1).permutation(n) if name != "iris" else np.arange(n)
    lines = [",".join([str(n), str(p), *classes])]
    lines += [",".join([*(f"{v:g}" for v in x[i]), str(int(y[i]))]) for i in order]
    return "\n".join(lines) + "\n"


def kaggle_iris_csv(seed: int = 0, separator: str = ",", decimal: str = ".") -> str:
    """Kaggle's Iris.csv layout: Id 1..150, four measurements in cm, 'Iris-setosa' labels, sorted by class."""
    rng = np.random.default_rng(seed)
    x, y = separable(150, 4, 3, rng, 3.0)  # measurements alone: about 93 %
    x = np.round((x - x.min(axis=0)) / np.ptp(x, axis=0) * 5 + 1, 1)
    names = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")
    head = separator.join(["Id", "SepalLengthCm", "SepalWidthCm", "PetalLengthCm", "PetalWidthCm", "Species"])
    lines = [head]
    for i in range(150):
        cells = [f"{v:.1f}".replace(".", decimal) for v in x[i]]
        lines.append(separator.join([str(i + 1), *cells, names[y[i]]]))
    return "\n".join(lines) + "\n"


def titanic_csv(n: int = 891, seed: int = 0) -> str:
    """A Titanic-like passenger list: ids, names, text categories, empty ages and ports."""
    rng = np.random.default_rng(seed)
    pclass = rng.choice([1, 2, 3], n, p=[0.24, 0.21, 0.55])
    sex = rng.choice(["male", "female"], n, p=[0.65, 0.35])
    age = np.clip(rng.normal(30, 14, n), 0.5, 80).round(1)
    sibsp = rng.choice([0, 1, 2, 3], n, p=[0.68, 0.23, 0.06, 0.03])
    parch = rng.choice([0, 1, 2], n, p=[0.76, 0.13, 0.11])
    fare = np.round(np.exp(rng.normal(4.2 - 0.7 * (pclass - 1), 0.5)), 4)
    embarked = rng.choice(["S", "C", "Q"], n, p=[0.72, 0.19, 0.09])
    logit = 1.2 + 2.5 * (sex == "female") - 1.0 * (pclass - 1) - 0.03 * (age - 30) - 0.3 * sibsp
    survived = (rng.random(n) < 1 / (1 + np.exp(-logit + 1.5))).astype(int)
    no_age = rng.random(n) < 0.2
    no_port = np.zeros(n, dtype=bool)
    no_port[rng.choice(n, 2, replace=False)] = True
    surnames = ["Smith", "Brown", "Kelly", "Olsen", "Rossi", "Dubois", "Novak", "Sato", "Silva", "Meyer"]
    lines = ["PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Fare,Embarked"]
    for i in range(n):
        title = "Mr." if sex[i] == "male" else "Mrs."
        name = f'"{surnames[i % len(surnames)]}, {title} Passenger {i + 1}"'
        cells = [str(i + 1), str(survived[i]), str(pclass[i]), name, sex[i],
                 "" if no_age[i] else f"{age[i]:g}", str(sibsp[i]), str(parch[i]), f"{fare[i]:g}",
                 "" if no_port[i] else embarked[i]]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def numeric_csv(target_bytes: int, seed: int = 0, features: int = 8) -> str:
    """An all-numeric table with a header of about ``target_bytes`` (a binary target last)."""
    rng = np.random.default_rng(seed)
    head = ",".join([*(f"f{j}" for j in range(features)), "label"]) + "\n"
    row = np.round(rng.normal(size=(1000, features)), 6)
    labels = (row[:, 0] + row[:, 1] > 0).astype(int)
    block = "".join(",".join([*(f"{v:.6f}" for v in row[i]), str(labels[i])]) + "\n" for i in range(1000))
    return head + block * max(1, target_bytes // len(block))


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "experiments/data")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "iris-count-header.csv").write_text(count_header_csv("iris"), encoding="utf-8")
    (folder / "iris-with-id.csv").write_text(kaggle_iris_csv(), encoding="utf-8")
    (folder / "titanic-like.csv").write_text(titanic_csv(), encoding="utf-8")
    print(f"wrote 3 tables to {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
