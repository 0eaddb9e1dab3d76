"""The learning engine: plain Python, pandas, numpy and TensorFlow; never Django or Celery."""
