"""A small classifier on synthetic digit-like data, trained and evaluated with miniengine."""
