print("cartsim")
