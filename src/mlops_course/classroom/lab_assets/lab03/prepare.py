"""Merge the daily exports in data/raw/ into one table for training: data/orders.csv.

A colleague's script, as it was handed over: lab03 makes it reproducible.
"""

import os

import pandas as pd

RAW = "data/raw"

frames = [pd.read_csv(os.path.join(RAW, name)) for name in os.listdir(RAW)]
orders = pd.concat(frames, ignore_index=True)
orders.to_csv("data/orders.csv", index=False)
