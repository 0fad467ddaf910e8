"""Knowledge-base retrieval, product search and the fused recommender (action-server side)."""
