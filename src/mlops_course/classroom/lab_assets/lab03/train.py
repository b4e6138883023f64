"""Train the delivery-delay model on data/orders.csv; write model.pkl and metrics.json.

A colleague's script, as it was handed over: lab03 makes it reproducible.
"""

import json
import os
import pickle

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

C = float(os.environ.get("LATE_MODEL_C", "1.0"))  # on my laptop: export LATE_MODEL_C=0.3

orders = pd.read_csv("data/orders.csv")
features = list(set(orders.columns) - {"order_id", "timestamp", "is_late"})
X = pd.get_dummies(orders[features], dtype=float)
X_fit, X_test, y_fit, y_test = train_test_split(X, orders["is_late"], test_size=0.25)

model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
model.fit(X_fit, y_fit)
p_late = model.predict_proba(X_test)[:, 1]
metrics = {"roc_auc": roc_auc_score(y_test, p_late), "log_loss": log_loss(y_test, p_late)}

with open("model.pkl", "wb") as file:
    pickle.dump(model, file)
with open("metrics.json", "w") as file:
    json.dump({name: round(value, 6) for name, value in metrics.items()}, file, indent=2)
