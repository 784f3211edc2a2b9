"""A small, real training loop with nothing but the Python standard library.

Fits y = 3x - 2 + noise with mini-batch gradient descent, prints its progress, and reports
metrics with the zero-dependency protocol: a stdout line `myelin:metric step=N name=value ...`.
Params come on the command line (templated from the polyaxonfile); POLYAXON_RUN_OUTPUTS_PATH
(or MYELIN_OUTPUTS_PATH) tells where to save the model.
"""
import argparse
import json
import math
import os
import random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    xs = [rng.uniform(-1, 1) for _ in range(512)]
    data = [(x, 3 * x - 2 + rng.gauss(0, 0.1)) for x in xs]
    train, val = data[:448], data[448:]
    w, b = 0.0, 0.0

    print(f"training y = w*x + b on {len(train)} points, lr={args.lr}, epochs={args.epochs}")
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(train)
        for i in range(0, len(train), args.batch_size):
            batch = train[i : i + args.batch_size]
            gw = sum(2 * (w * x + b - y) * x for x, y in batch) / len(batch)
            gb = sum(2 * (w * x + b - y) for x, y in batch) / len(batch)
            w, b = w - args.lr * gw, b - args.lr * gb
        loss = sum((w * x + b - y) ** 2 for x, y in train) / len(train)
        val_loss = sum((w * x + b - y) ** 2 for x, y in val) / len(val)
        if math.isnan(loss) or math.isinf(loss):
            print(f"epoch {epoch}: diverged (lr too high?)")
            raise SystemExit(2)
        print(f"epoch {epoch:3d}  loss {loss:.5f}  val_loss {val_loss:.5f}  w {w:.3f}  b {b:.3f}")
        print(f"myelin:metric step={epoch} loss={loss:.6f} val_loss={val_loss:.6f}")

    outputs = os.environ.get("POLYAXON_RUN_OUTPUTS_PATH") or os.environ.get("MYELIN_OUTPUTS_PATH") or "."
    os.makedirs(outputs, exist_ok=True)
    with open(os.path.join(outputs, "model.json"), "w") as f:
        json.dump({"w": w, "b": b, "val_loss": val_loss}, f)
    print(f"saved model to {outputs}/model.json")


if __name__ == "__main__":
    main()
