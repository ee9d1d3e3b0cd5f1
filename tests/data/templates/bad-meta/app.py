print("not served; only registered")
