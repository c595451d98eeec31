import { use } from 'echarts/core'
import { BarChart } from 'echarts/charts'

use([BarChart])
