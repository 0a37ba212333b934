"""Article paragraphs for the PDF and DOCX tests (tests/index, tests/service)."""
P1 = ["The harbour authority of Velmont published its annual report on shipping traffic in the northern "
      "basin, where container volumes grew for the third year in a row.",
      "Officials said the dredging programme had kept the channel open through the winter storms."]
P2 = ["The new Zephyr bridge over the Almond river was opened on 14 March 1931 by the mayor, Clara Hoff, "
      "after four years of construction.",
      "Its central span of 212 metres was the longest in the region until the 1960s."]
