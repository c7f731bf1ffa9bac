"""Stage 1: a plain PyTorch training loop, and the bookkeeping that grows around it."""

from common import make_data, make_model, train_step

data = make_data()
model, optimizer = make_model()

iteration, best, running = 0, float("inf"), None
for epoch in range(1, 4):
    for batch in data:
        iteration += 1
        loss = train_step(model, optimizer, batch)
        # Each of these jobs needs its own counter test, and lives inside the loop:
        running = loss if running is None else 0.5 * running + 0.5 * loss  # a metric
        if iteration % 2 == 0:  # logging, every 2nd iteration
            print(f"epoch {epoch} iteration {iteration:2d}  loss {loss:.2f}")
    print(f"end of epoch {epoch}: running loss {running:.2f}")  # an epoch-end report
    if running < best:  # "checkpoint the best model", here only remembered
        best = running
print(f"done after {iteration} iterations, best running loss {best:.2f}")
