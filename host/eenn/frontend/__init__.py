"""From a Keras model and data to int8 stages: datasets, the zoo, augmenting a user's model,
exit heads, training, quantization and splitting into one .tflite per exit."""
