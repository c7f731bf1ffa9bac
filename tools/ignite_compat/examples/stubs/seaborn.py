"""Stand-in for seaborn (not installed): heatmap draws the matrix with matplotlib imshow."""


def heatmap(data, annot=False, ax=None, fmt=".2g", **kwargs):
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    ax.imshow(data)
    return ax
